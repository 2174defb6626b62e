/**
 * A windowed metric series, sized by activity rather than by time span: one
 * bucket per second that saw observations (count, sum, max, min), at most
 * MAX_BUCKETS of them, plus (for series that need percentiles) the last
 * RESERVOIR raw values. Storage is one packed array of doubles, grown on
 * demand, so a quiet series costs a few dozen bytes and the hot path does not
 * allocate: at 100k processes this is what keeps GC and RSS in check.
 *
 * Percentiles are over the most recent RESERVOIR observations inside the
 * window (exact for sparse series, recent-biased for very busy ones).
 */
import type { Agg } from '../rules/context';

const MAX_BUCKETS = 64;
const RESERVOIR = 32;
const F = 5; // fields per bucket: second, count, sum, max, min
const NS_PER_S = 1e9;
// Layout of the packed array: the newest bucket first, then the running
// totals, then older buckets oldest first from `head`. Every write of add()
// lands in the first 80 bytes, and doubles in an array are stored unboxed
// (object fields holding doubles are boxed: one more memory access each).
const CUR = 0; // newest bucket: [sec, cnt, sum, max, min]
const LAST_VALUE = 5;
const LAST_SEC = 6;
const TOTAL = 7;
const TOTAL_COUNT = 8;
const OLDER = 9; // first older bucket

export class Series {
  private d: number[] = [-1, 0, 0, 0, 0, 0, 0, 0, 0];
  private head = OLDER; // index of the oldest kept bucket's first field
  /** reservoir ring of [value, tSec] pairs, allocated on first use */
  private r: number[] | undefined;
  private rn = 0;

  /**
   * `sampling`: keep the newest raw values for percentiles (switchable: the graph
   * samples only metrics some rule reads as a percentile).
   * `metric`: the id of the metric this series records, for nodes that keep several.
   */
  constructor(
    public sampling = true,
    readonly metric = -1,
  ) {}

  get lastValue(): number {
    return this.d[LAST_VALUE]!;
  }
  /** lifetime sum */
  get total(): number {
    return this.d[TOTAL]!;
  }
  get totalCount(): number {
    return this.d[TOTAL_COUNT]!;
  }

  /** Records one observation at boot time `tSec` (seconds, fractional). */
  add(tSec: number, value: number): void {
    const d = this.d;
    const s = Math.floor(tSec);
    // records from another CPU's ring may arrive a batch late: fold them into the newest bucket
    if (d[CUR]! >= s) {
      d[CUR + 1]!++;
      d[CUR + 2]! += value;
      if (value > d[CUR + 3]!) d[CUR + 3] = value;
      if (value < d[CUR + 4]!) d[CUR + 4] = value;
    } else {
      if (d[CUR + 1]! > 0) this.closeBucket(d);
      d[CUR] = s;
      d[CUR + 1] = 1;
      d[CUR + 2] = value;
      d[CUR + 3] = value;
      d[CUR + 4] = value;
    }
    if (this.sampling) {
      const slot = (this.rn % RESERVOIR) * 2;
      const r = (this.r ??= []);
      r[slot] = value;
      r[slot + 1] = tSec;
      this.rn++;
    }
    d[LAST_VALUE] = value;
    d[LAST_SEC] = tSec;
    d[TOTAL]! += value;
    d[TOTAL_COUNT]!++;
  }

  /** Moves the newest bucket to the older ones (a new second began), keeping at most MAX_BUCKETS in all. */
  private closeBucket(d: number[]): void {
    if ((d.length - this.head) / F >= MAX_BUCKETS - 1) this.head += F; // drop the oldest
    if (this.head - OLDER >= (d.length - OLDER) / 2 && this.head > OLDER) {
      // compact occasionally instead of shifting every time
      d.copyWithin(OLDER, this.head);
      d.length -= this.head - OLDER;
      this.head = OLDER;
    }
    d.push(d[CUR]!, d[CUR + 1]!, d[CUR + 2]!, d[CUR + 3]!, d[CUR + 4]!);
  }

  /** Aggregate over (nowSec - windowSec, nowSec]; undefined = no data (for max/min/avg/percentiles). */
  aggregate(agg: Agg, nowSec: number, windowSec: number): number | undefined {
    const d = this.d;
    if (agg === 'last') return d[TOTAL_COUNT] ? d[LAST_VALUE] : undefined;
    const from = nowSec - windowSec;
    let count = 0;
    let sum = 0;
    let max = -Infinity;
    let min = Infinity;
    // a bucket counts if any part of its second is inside the window: the newest, then older ones
    if (d[CUR + 1]! > 0 && d[CUR]! + 1 > from) {
      count = d[CUR + 1]!;
      sum = d[CUR + 2]!;
      max = d[CUR + 3]!;
      min = d[CUR + 4]!;
      for (let i = d.length - F; i >= this.head; i -= F) {
        if (d[i]! + 1 <= from) break;
        count += d[i + 1]!;
        sum += d[i + 2]!;
        if (d[i + 3]! > max) max = d[i + 3]!;
        if (d[i + 4]! < min) min = d[i + 4]!;
      }
    }
    switch (agg) {
      case 'count':
        return count;
      case 'sum':
        return sum;
      case 'rate':
        return windowSec > 0 ? sum / windowSec : undefined;
    }
    if (count === 0) return undefined;
    switch (agg) {
      case 'max':
        return max;
      case 'min':
        return min;
      case 'avg':
        return sum / count;
      case 'p50':
        return this.percentile(50, from);
      case 'p90':
        return this.percentile(90, from);
      case 'p99':
        return this.percentile(99, from);
    }
    return undefined;
  }

  /** Seconds since the newest observation (Infinity if none). */
  idleFor(nowSec: number): number {
    return this.d[TOTAL_COUNT] ? nowSec - this.d[LAST_SEC]! : Infinity;
  }

  private percentile(p: number, fromSec: number): number | undefined {
    const r = this.r;
    if (!r) return undefined;
    const have = Math.min(this.rn, RESERVOIR);
    const vals: number[] = [];
    for (let k = 0; k < have; k++) if (r[k * 2 + 1]! > fromSec) vals.push(r[k * 2]!);
    if (vals.length === 0) return undefined;
    vals.sort((a, b) => a - b);
    return vals[Math.min(vals.length - 1, Math.max(0, Math.ceil((p / 100) * vals.length) - 1))]!;
  }
}

export const secondsOf = (ns: number): number => ns / NS_PER_S;
