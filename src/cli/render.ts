/** Text rendering of a `why` answer for terminals. */
import type { PsRow, WhyAnswer } from '../engine/answer';

export function renderWhy(a: WhyAnswer): string {
  const lines: string[] = [];
  const head = `${a.comm || '?'} (${a.pid}), ${a.state}`;
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
