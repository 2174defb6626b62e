/**
 * A windowed metric series, sized by activity rather than by time span: one
 * bucket per second that saw observations (count, sum, max, min), at most
 * MAX_BUCKETS of them, plus the last RESERVOIR raw values for percentiles.
 * A process that had a burst of retransmits costs a few hundred bytes; one
 * that never did costs nothing (series are created on first observation).
 *
 * Percentiles are over the most recent RESERVOIR observations inside the
 * window (exact for sparse series, recent-biased for very busy ones).
 */
import type { Agg } from '../rules/context';

const MAX_BUCKETS = 64;
const RESERVOIR = 32;
const NS_PER_S = 1e9;

export class Series {
  // parallel arrays, oldest first; bucket = whole second of boot time
  private sec: number[] = [];
  private cnt: number[] = [];
  private sm: number[] = [];
  private mx: number[] = [];
  private mn: number[] = [];
  private rv = new Float64Array(RESERVOIR); // reservoir values (ring)
  private rt = new Float64Array(RESERVOIR); // reservoir times, seconds (fractional)
  private rn = 0; // observations ever written into the reservoir
  lastValue = 0;
  lastSec = 0;
  total = 0; // lifetime sum
  totalCount = 0;

  /** Records one observation at boot time `tSec` (seconds, fractional). */
  add(tSec: number, value: number): void {
    const s = Math.floor(tSec);
    const n = this.sec.length;
    if (n > 0 && this.sec[n - 1] === s) {
      const i = n - 1;
      this.cnt[i]!++;
      this.sm[i]! += value;
      if (value > this.mx[i]!) this.mx[i] = value;
      if (value < this.mn[i]!) this.mn[i] = value;
    } else if (n > 0 && s < this.sec[n - 1]!) {
      // out of order (records from another CPU's ring arrive a batch late): fold into the newest bucket
      const i = n - 1;
      this.cnt[i]!++;
      this.sm[i]! += value;
      if (value > this.mx[i]!) this.mx[i] = value;
      if (value < this.mn[i]!) this.mn[i] = value;
    } else {
      if (n >= MAX_BUCKETS) {
        this.sec.shift();
        this.cnt.shift();
        this.sm.shift();
        this.mx.shift();
        this.mn.shift();
      }
      this.sec.push(s);
      this.cnt.push(1);
      this.sm.push(value);
      this.mx.push(value);
      this.mn.push(value);
    }
    const slot = this.rn % RESERVOIR;
    this.rv[slot] = value;
    this.rt[slot] = tSec;
    this.rn++;
    this.lastValue = value;
    this.lastSec = tSec;
    this.total += value;
    this.totalCount++;
  }

  /** Aggregate over (nowSec - windowSec, nowSec]; undefined = no data (for max/min/avg/percentiles). */
  aggregate(agg: Agg, nowSec: number, windowSec: number): number | undefined {
    if (agg === 'last') return this.totalCount ? this.lastValue : undefined;
    const from = nowSec - windowSec;
    let count = 0;
    let sum = 0;
    let max = -Infinity;
    let min = Infinity;
    for (let i = this.sec.length - 1; i >= 0; i--) {
      // a bucket counts if any part of its second is inside the window
      if (this.sec[i]! + 1 <= from) break;
      count += this.cnt[i]!;
      sum += this.sm[i]!;
      if (this.mx[i]! > max) max = this.mx[i]!;
      if (this.mn[i]! < min) min = this.mn[i]!;
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
    const have = Math.min(this.rn, RESERVOIR);
    const vals: number[] = [];
    for (let k = 0; k < have; k++) if (this.rt[k]! > fromSec) vals.push(this.rv[k]!);
    if (vals.length === 0) return undefined;
    vals.sort((a, b) => a - b);
    return vals[Math.min(vals.length - 1, Math.max(0, Math.ceil((p / 100) * vals.length) - 1))]!;
  }
}

export const secondsOf = (ns: number): number => ns / NS_PER_S;
