/**
 * `why` by selector (pod/, container/, job/): every process whose identity
 * matches, from the graph (running, and exited within the grace period) and,
 * on a live host, from /proc (a process with no event of its own yet). The
 * ones with a finding are answered in full (at most MAX_ANSWERS, best first);
 * the rest are listed. No match: WhyError saying what was searched.
 */
import type { Pipeline } from '../engine/pipeline';
import type { PsRow, WhyAnswer, WhySelection } from '../engine/answer';
import { identityFields, resolveProcess, type Identity } from '../identity/identity';
import { matchesSelector, selectorText, type Selector } from '../identity/selector';
import { listPids } from '../procfs/read';
import { answerWhy, WhyError } from './why';

export const MAX_ANSWERS = 8;

export function answerSelection(p: Pipeline, sel: Selector, windowNs = 300e9): WhySelection {
  if (sel.kind === 'pid') throw new WhyError('internal: a pid is answered by answerWhy', 'NOT_FOUND');
  p.flush();
  const matched: { pid: number; startNs: number; identity: Identity }[] = [];
  const seen = new Set<number>();
  let searched = 0;
  const consider = (pid: number, startNs: number, id: Identity | undefined) => {
    searched++;
    if (id && matchesSelector(sel, id)) matched.push({ pid, startNs, identity: id });
  };
  for (const n of p.graph.procs.values()) {
    if (n.kthread) continue;
    seen.add(n.pid);
    consider(n.pid, n.startNs, p.identityOf(n));
  }
  for (const n of p.graph.retired.values()) if (!n.kthread) consider(n.pid, n.startNs, n.identity);
  if (p.identities) {
    for (const pid of listPids()) {
      if (seen.has(pid)) continue;
      const id = resolveProcess(pid, 0, p.identities.opts);
      if (id.identity === 'resolved') consider(pid, 0, id);
    }
  }
  if (!matched.length) {
    throw new WhyError(
      `no process matches ${selectorText(sel)}: searched ${searched} processes (the graph's, running and exited in the last ${Math.round(
        p.graph.caps.exitedGraceNs / 60e9,
      )} min${p.identities ? ', and /proc' : ''}) by ${what(sel)}`,
      'NOT_FOUND',
    );
  }
  const answers: WhyAnswer[] = [];
  const others: PsRow[] = [];
  for (const m of matched) {
    let a: WhyAnswer;
    try {
      a = answerWhy(p, m.pid, windowNs);
    } catch (e) {
      if (e instanceof WhyError) continue; // exited and gone between the match and the answer
      throw e;
    }
    if (a.start_ns !== m.startNs && m.startNs !== 0) continue; // an older incarnation: the pid's answer is another process's
    if (a.scene !== 'healthy') answers.push({ ...a, ...identityFields(m.identity) });
    else
      others.push({
        pid: a.pid,
        comm: a.comm,
        state: a.state,
        start_ns: a.start_ns,
        last_seen_s: 0,
        scene: 'healthy',
        summary: a.summary,
        score: 0,
        ...identityFields(m.identity),
      });
  }
  answers.sort((a, b) => (b.findings[0]?.score ?? 0) - (a.findings[0]?.score ?? 0));
  for (const a of answers.splice(MAX_ANSWERS)) others.unshift(rowOf(a));
  return { selector: selectorText(sel), searched, answers, others };
}

function rowOf(a: WhyAnswer): PsRow {
  const { pid, comm, state, start_ns, scene, summary } = a;
  return { pid, comm, state, start_ns, last_seen_s: 0, scene, summary, score: a.findings[0]?.score ?? 0, ...identityFields(a as Identity) };
}

function what(sel: Selector): string {
  switch (sel.kind) {
    case 'pod':
      return 'uid' in sel ? 'pod uid (from the cgroup path)' : "pod namespace/name (from the container runtime's files)";
    case 'container':
      return 'container id prefix (from the cgroup path)';
    case 'job':
      return `training job id (RANK/…, job from ${'identity.job_vars'}) or Slurm job id${sel.rank !== undefined ? `, rank ${sel.rank}` : ''}`;
    default:
      return 'pid';
  }
}
