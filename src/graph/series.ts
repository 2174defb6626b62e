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

export class Series {
  /** [sec, cnt, sum, max, min] per bucket, oldest first, from `head` */
  private b: number[] = [];
  private head = 0; // index of the oldest bucket's first field
  /** reservoir ring of [value, tSec] pairs, allocated on first use */
  private r: number[] | undefined;
  private rn = 0;
  lastValue = 0;
  lastSec = 0;
  total = 0; // lifetime sum
  totalCount = 0;

  constructor(private readonly percentiles = true) {}

  /** Records one observation at boot time `tSec` (seconds, fractional). */
  add(tSec: number, value: number): void {
    const b = this.b;
    const s = Math.floor(tSec);
    const end = b.length;
    // records from another CPU's ring may arrive a batch late: fold them into the newest bucket
    if (end > this.head && b[end - F]! >= s) {
      const i = end - F;
      b[i + 1]!++;
      b[i + 2]! += value;
      if (value > b[i + 3]!) b[i + 3] = value;
      if (value < b[i + 4]!) b[i + 4] = value;
    } else {
      if ((end - this.head) / F >= MAX_BUCKETS) this.head += F; // drop the oldest
      if (this.head > 0 && this.head >= b.length / 2) {
        // compact occasionally instead of shifting every time
        this.b = b.slice(this.head);
        this.head = 0;
      }
      this.b.push(s, 1, value, value, value);
    }
    if (this.percentiles) {
      const slot = (this.rn % RESERVOIR) * 2;
      const r = (this.r ??= []);
      r[slot] = value;
      r[slot + 1] = tSec;
      this.rn++;
    }
    this.lastValue = value;
    this.lastSec = tSec;
    this.total += value;
    this.totalCount++;
  }

  /** Aggregate over (nowSec - windowSec, nowSec]; undefined = no data (for max/min/avg/percentiles). */
  aggregate(agg: Agg, nowSec: number, windowSec: number): number | undefined {
    if (agg === 'last') return this.totalCount ? this.lastValue : undefined;
    const from = nowSec - windowSec;
    const b = this.b;
    let count = 0;
    let sum = 0;
    let max = -Infinity;
    let min = Infinity;
    for (let i = b.length - F; i >= this.head; i -= F) {
      // a bucket counts if any part of its second is inside the window
      if (b[i]! + 1 <= from) break;
      count += b[i + 1]!;
      sum += b[i + 2]!;
      if (b[i + 3]! > max) max = b[i + 3]!;
      if (b[i + 4]! < min) min = b[i + 4]!;
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
    return this.totalCount ? nowSec - this.lastSec : Infinity;
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
