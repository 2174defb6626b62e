/**
 * What `xctl why` is asked about: a pid, or processes by who they are.
 *   PID                     one process
 *   pod/UID                 the pod's processes (uid as the kubelet writes it, dashes)
 *   pod/NAMESPACE/NAME      the same by name (from the runtime's files)
 *   container/ID-PREFIX     a container's processes (at least 4 hex digits of its id)
 *   job/ID [--rank N]       a training job's ranks (rank.job), or a Slurm job (slurm.job); one rank with --rank
 * parseSelector is the one parser; callers branch on `kind`.
 */
import { UserError } from '../errors';
import type { Identity } from './identity';

export type Selector =
  | { kind: 'pid'; pid: number }
  | { kind: 'pod'; uid: string }
  | { kind: 'pod'; namespace: string; name: string }
  | { kind: 'container'; prefix: string }
  | { kind: 'job'; job: string; rank?: number };

export class SelectorError extends UserError {
  override name = 'SelectorError';
}

export const SELECTOR_FORMS = 'PID, pod/UID, pod/NAMESPACE/NAME, container/ID-PREFIX, job/ID [--rank N]';

export function parseSelector(text: string | undefined, rank?: string): Selector {
  const t = (text ?? '').trim();
  const bad = (why: string) => new SelectorError(`why: ${why} (give ${SELECTOR_FORMS})`);
  let rankN: number | undefined;
  if (rank !== undefined) {
    if (!/^\d{1,9}$/.test(rank)) throw bad(`--rank needs a non-negative integer, got "${rank}"`);
    rankN = Number(rank);
  }
  if (/^\d+$/.test(t)) {
    const pid = Number(t);
    if (pid <= 0 || pid > 4194304) throw bad(`no such pid "${t}"`);
    if (rankN !== undefined) throw bad('--rank goes with job/ID');
    return { kind: 'pid', pid };
  }
  const slash = t.indexOf('/');
  const kind = slash < 0 ? t : t.slice(0, slash);
  const rest = slash < 0 ? '' : t.slice(slash + 1);
  if (rankN !== undefined && kind !== 'job') throw bad('--rank goes with job/ID');
  switch (kind) {
    case 'pod': {
      const parts = rest.split('/');
      if (parts.length === 1 && parts[0]) return { kind: 'pod', uid: parts[0].toLowerCase() };
      if (parts.length === 2 && parts[0] && parts[1]) return { kind: 'pod', namespace: parts[0], name: parts[1] };
      throw bad(`"${t}" is not pod/UID or pod/NAMESPACE/NAME`);
    }
    case 'container': {
      const p = rest.toLowerCase();
      if (!/^[0-9a-f]{4,64}$/.test(p)) throw bad(`"${t}": a container id prefix is 4 to 64 hex digits`);
      return { kind: 'container', prefix: p };
    }
    case 'job':
      if (!rest) throw bad(`"${t}" names no job`);
      return rankN === undefined ? { kind: 'job', job: rest } : { kind: 'job', job: rest, rank: rankN };
    default:
      throw bad(`"${t}" is not a pid or a selector`);
  }
}

export function selectorText(s: Selector): string {
  switch (s.kind) {
    case 'pid':
      return String(s.pid);
    case 'pod':
      return 'uid' in s ? `pod/${s.uid}` : `pod/${s.namespace}/${s.name}`;
    case 'container':
      return `container/${s.prefix}`;
    case 'job':
      return `job/${s.job}${s.rank !== undefined ? ` --rank ${s.rank}` : ''}`;
  }
}

/** Whether a process of this identity is selected (a pid selector matches by pid, elsewhere). */
export function matchesSelector(s: Selector, i: Partial<Identity> | undefined): boolean {
  if (!i) return false;
  switch (s.kind) {
    case 'pid':
      return false;
    case 'pod':
      return 'uid' in s ? i.pod?.uid === s.uid : i.pod?.namespace === s.namespace && i.pod?.name === s.name;
    case 'container':
      return i.container?.id.startsWith(s.prefix) ?? false;
    case 'job': {
      if (i.rank?.job === s.job) return s.rank === undefined || i.rank.rank === s.rank;
      if (i.slurm?.job === s.job) return s.rank === undefined || i.rank?.rank === s.rank;
      return false;
    }
  }
}
