/**
 * Record filter for `xctl replay` / `xctl events`: evaluated per (batch, i)
 * on the hot path, so it reads fields in place and allocates nothing.
 */
import type { RecordBatch } from './decoder';
import { KIND_MAX, KIND_NAMES, Kind, OFFSETS, kindFromName } from './layout';

export interface FilterSpec {
  /** Process ids (tgid). A signal matches on its sender or its target. */
  pids?: readonly number[];
  /** Kind names ("exit", "tcp_retransmit", ...). */
  kinds?: readonly string[];
}

export class EventFilter {
  private readonly pids: ReadonlySet<number> | null;
  /** kindOk[k] === 1 if kind k passes; null = all kinds. */
  private readonly kindOk: Uint8Array | null;

  /** Throws Error naming the bad value for unknown kinds or non-integer pids. */
  constructor(spec: FilterSpec = {}) {
    if (spec.pids && spec.pids.length > 0) {
      for (const p of spec.pids) {
        if (!Number.isInteger(p) || p < 0 || p > 0xffffffff) throw new Error(`invalid pid ${p}`);
      }
      this.pids = new Set(spec.pids);
    } else {
      this.pids = null;
    }
    if (spec.kinds && spec.kinds.length > 0) {
      const ok = new Uint8Array(KIND_MAX + 1);
      for (const name of spec.kinds) {
        const k = kindFromName(name);
        if (k === undefined) {
          throw new Error(`unknown kind "${name}" (kinds: ${KIND_NAMES.filter(Boolean).join(', ')})`);
        }
        ok[k] = 1;
      }
      this.kindOk = ok;
    } else {
      this.kindOk = null;
    }
  }

  /** True when nothing is filtered out. */
  get isEmpty(): boolean {
    return this.pids === null && this.kindOk === null;
  }

  matches(b: RecordBatch, i: number): boolean {
    const kind = b.kind(i);
    if (this.kindOk !== null && this.kindOk[kind] !== 1) return false;
    if (this.pids === null) return true;
    if (this.pids.has(b.pid(i))) return true;
    // "who signalled my process" is a core question: match the target too
    return kind === Kind.SIGNAL && this.pids.has(b.u32(i, OFFSETS['sig.target_pid']));
  }
}
