/** Text rendering of a `why` answer for terminals. */
import type { PsRow, WhyAnswer, WhySelection } from '../engine/answer';
import type { PsGroup } from './why';
import { identityLine } from '../identity/identity';

export function renderWhy(a: WhyAnswer): string {
  const lines: string[] = [];
  const head = `${a.comm || '?'} (${a.pid}), ${a.state}`;
  const who = identityLine(a);
  if (a.scene === 'healthy') {
    lines.push(`${head}: healthy (confidence ${pct(a.confidence)})`);
    lines.push(`  ${a.summary}`);
  } else {
    lines.push(`${head}: ${a.scene} (confidence ${pct(a.confidence)})`);
    lines.push(`  cause: ${a.summary}`);
    if (a.chain.length) {
      lines.push('  chain:');
      for (const l of a.chain) {
        lines.push(`    ${l.from.label} --${l.edge}--> ${l.to.label}`);
        lines.push(`        ${l.evidence.text}`);
      }
    }
    if (a.actions.length) {
      lines.push('  recommended:');
      for (const act of a.actions) lines.push(`    - ${act.type}${act.text ? `: ${act.text}` : ''}`);
    }
    const others = a.findings.slice(1, 4);
    if (others.length) {
      lines.push('  also:');
      for (const f of others) lines.push(`    - ${f.scene} (${pct(f.confidence)}): ${f.summary}`);
    }
  }
  const drops = a.dropped_events
    ? `${a.dropped_events} events were dropped in this window: the answer may miss evidence`
    : 'no events dropped in this window';
  lines.push(`  window ${a.window_s} s; ${drops}; answered in ${a.answered_in_ms.toFixed(1)} ms`);
  if (a.detail_reduced) lines.push(`  ${a.detail_reduced}`);
  if (who) lines.splice(1, 0, `  ${who}`); // the header's second line: who the process is
  return lines.join('\n');
}

export function renderPs(rows: PsRow[]): string {
  const out = [`${'PID'.padStart(7)}  ${'COMM'.padEnd(16)} ${'STATE'.padEnd(8)} ${'SCENE'.padEnd(17)} SUMMARY`];
  for (const r of rows) {
    out.push(`${String(r.pid).padStart(7)}  ${r.comm.padEnd(16).slice(0, 16)} ${r.state.padEnd(8)} ${r.scene.padEnd(17)} ${r.summary}`);
  }
  return out.join('\n');
}

const pct = (x: number) => `${Math.round(x * 100)} %`;

/** `why <selector>`: each answer in full, then the other selected processes one per line. */
export function renderSelection(s: WhySelection): string {
  const out: string[] = [];
  out.push(
    `${s.selector}: ${s.answers.length + s.others.length} processes (of ${s.searched} searched), ${s.answers.length} with a finding`,
  );
  for (const a of s.answers) out.push('', renderWhy(a));
  if (s.others.length) {
    out.push('', s.answers.length ? 'the rest:' : 'none with a finding:');
    for (const r of s.others) out.push(`  ${psLine(r)}${identityLine(r) ? `  [${identityLine(r)}]` : ''}`);
  }
  return out.join('\n');
}

/** `ps --by pod|job`: one header per group, its processes under it. */
export function renderPsGroups(groups: PsGroup[], by: 'pod' | 'job'): string {
  const out: string[] = [];
  for (const g of groups) {
    const head =
      g.key === ''
        ? `(no ${by})`
        : by === 'pod'
          ? `pod ${g.key}${g.pod ? ` (uid ${g.pod.uid}${g.pod.qos ? `, ${g.pod.qos}` : ''})` : ''}`
          : `job ${g.key}`;
    out.push(
      `${head}: ${g.processes} processes, ${g.with_findings} with a finding${g.worst ? `; worst: ${g.worst.comm} (${g.worst.pid})${g.worst.rank !== undefined ? ` rank ${g.worst.rank}` : ''} ${g.worst.scene}` : ''}`,
    );
    for (const r of g.rows) out.push(`  ${psLine(r)}`);
  }
  return out.join('\n');
}

function psLine(r: PsRow): string {
  const who = r.rank ? ` rank ${r.rank.rank}` : r.container?.name ? ` [${r.container.name}]` : '';
  return `${String(r.pid).padStart(7)}  ${r.comm.padEnd(16).slice(0, 16)} ${r.state.padEnd(8)} ${r.scene.padEnd(17)} ${r.summary}${who}`;
}
