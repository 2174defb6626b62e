/**
 * Windowed metric series, sized by activity rather than by time span: one
 * bucket per second that saw observations (count, sum, max, min), at most
 * MAX_BUCKETS of them, lifetime totals, and (for series that need
 * percentiles) the last RESERVOIR raw values.
 *
 * Every series has a head of 8 doubles in its store's slab: all that an
 * observation writes (the newest bucket, the newest value and time, the
 * reservoir cursor), one cache line. Lifetime totals, written when a bucket
 * closes, sit at the same index in a parallel array, so they do not share the
 * hot line (nor the line pair the CPU fetches together). Older buckets live
 * on the Series object, touched once a second when a bucket closes, and by
 * readers. The per-event path is the head's line, plus one reservoir line for
 * sampled series: at scale, each line not in cache is what ingest costs.
 *
 * Percentiles are over the most recent RESERVOIR observations inside the
 * window (exact for sparse series, recent-biased for very busy ones).
 */
import type { Agg } from './vocabulary';
import { Slab } from './slab';

const MAX_BUCKETS = 64;
const RESERVOIR = 32;
const F = 5; // fields per older bucket: second, count, sum, max, min
const NS_PER_S = 1e9;

// A head. Written per observation:
const END_NS = 0; // end of the newest bucket's second, ns (0: no observation yet); a record before it folds in
const CNT = 1;
const SUM = 2;
const MAX = 3;
const MIN = 4;
const LAST_VALUE = 5;
const LAST_NS = 6; // newest observation time
const RING = 7; // 1 + index of the next reservoir write in the samples slab; 0 = not sampling
const HEAD = new Float64Array(8);
/** The head's cold half, in `totals` at the head's index: written when a bucket closes, or once. */
const CLOSED_SUM = 0; // lifetime sums of the closed buckets
const CLOSED_COUNT = 1;
const CLOSED_MAX = 2;
const FIRST_NS = 3;
const TOTALS = new Float64Array(8);
TOTALS[CLOSED_MAX] = -Infinity;
/** heads are multiples of this: the low bits of a head index are free (model.ts keeps an edge kind there) */
export const HEAD_WIDTH = HEAD.length;
const HEAD_SHIFT = 31 - Math.clz32(HEAD_WIDTH); // a power of two

/** A reservoir: RESERVOIR [value, tSec] pairs; -Infinity times are empty slots (never in a window). */
const RING_WIDTH = RESERVOIR * 2;
const EMPTY_RING = new Float64Array(RING_WIDTH);
/** percentile() sorts the reservoir's values in the window here */
const SCRATCH = new Float64Array(RESERVOIR);
for (let k = 1; k < RING_WIDTH; k += 2) EMPTY_RING[k] = -Infinity;

/** The heads and reservoirs of a graph's series. */
export class SeriesStore {
  readonly heads: Slab;
  /** the heads' cold halves, allocated and released with the heads, so at the same indices */
  readonly totals: Slab;
  readonly samples: Slab;
  /** the Series of each head, by head index / HEAD_WIDTH (a closing bucket goes to its older ones) */
  private readonly owners: (Series | undefined)[] = [];
  /** 1 for the metric ids whose series keep raw samples (those some rule reads as a percentile) */
  readonly sampled = new Uint8Array(32); // metric ids are below 30 (vocabulary.ts)

  constructor(capacity = 1024) {
    this.heads = new Slab(HEAD, capacity);
    this.totals = new Slab(TOTALS, capacity);
    this.samples = new Slab(EMPTY_RING, 16);
  }

  /** A new head for `s`: its index. */
  attach(s: Series): number {
    const at = this.heads.alloc();
    if (this.totals.alloc() !== at) throw new Error('series heads and totals out of step');
    this.owners[at >> HEAD_SHIFT] = s;
    return at;
  }

  /** The series whose head is at `at`. */
  owner(at: number): Series | undefined {
    return this.owners[at >> HEAD_SHIFT];
  }

  /** Field `field` of the cold half of the head at `at`. */
  total(at: number, field: number): number {
    return this.totals.f[at + field]!;
  }

  /** Frees a head and its reservoir. */
  detach(at: number): void {
    const ring = this.heads.f[at + RING]!;
    if (ring !== 0) this.samples.release(ringBase(ring));
    this.owners[at >> HEAD_SHIFT] = undefined;
    this.heads.release(at);
    this.totals.release(at);
  }

  /**
   * Samples raw values (for percentiles) for these metric ids only, from now
   * on and in the series that exist: rule sets change rarely, events often,
   * so the observation path never asks.
   */
  sampleMetrics(ids: Iterable<number>): void {
    this.sampled.fill(0);
    for (const id of ids) this.sampled[id] = 1;
    for (const s of this.owners) if (s !== undefined && s.metric >= 0) this.setSampling(s.at, this.sampled[s.metric] === 1);
  }

  /**
   * One observation at boot time `tNs` on the head at `at`. This is the
   * per-event path: it fits the caller's inlining budget, and the rare
   * case (the first observation in a new second) is out of line.
   */
  add(at: number, tNs: number, value: number): void {
    const h = this.heads.f;
    // records from another CPU's ring may arrive a batch late: they fold into the newest bucket
    if (tNs < h[at + END_NS]!) {
      h[at + CNT]!++;
      h[at + SUM]! += value;
      if (value > h[at + MAX]!) h[at + MAX] = value;
      if (value < h[at + MIN]!) h[at + MIN] = value;
    } else this.openBucket(h, at, tNs, value);
    const ring = h[at + RING]!;
    if (ring !== 0) {
      const r = this.samples.f;
      r[ring - 1] = value;
      r[ring] = tNs / NS_PER_S;
      // the next pair, wrapping within the reservoir (integer ops: a float % would be a libm call)
      h[at + RING] = ((ring - 1) & (RING_WIDTH - 1)) === RING_WIDTH - 2 ? ringBase(ring) + 1 : ring + 2;
    }
    h[at + LAST_VALUE] = value;
    if (tNs > h[at + LAST_NS]!) h[at + LAST_NS] = tNs;
  }

  setSampling(at: number, on: boolean): void {
    const ring = this.heads.f[at + RING]!;
    if (on && ring === 0) {
      const base = this.samples.alloc();
      this.heads.f[at + RING] = base + 1;
    } else if (!on && ring !== 0) {
      this.samples.release(ringBase(ring));
      this.heads.f[at + RING] = 0;
    }
  }

  /** A new second began: the newest bucket moves to the owner's older ones, and `value` starts the next. */
  private openBucket(h: Float64Array, at: number, tNs: number, value: number): void {
    const c = this.totals.f;
    if (h[at + CNT]! > 0) {
      c[at + CLOSED_SUM]! += h[at + SUM]!;
      c[at + CLOSED_COUNT]! += h[at + CNT]!;
      if (h[at + MAX]! > c[at + CLOSED_MAX]!) c[at + CLOSED_MAX] = h[at + MAX]!;
      this.owners[at >> HEAD_SHIFT]!.keep(h[at + END_NS]! / NS_PER_S - 1, h[at + CNT]!, h[at + SUM]!, h[at + MAX]!, h[at + MIN]!);
    } else c[at + FIRST_NS] = tNs; // the first observation
    h[at + END_NS] = (Math.floor(tNs / NS_PER_S) + 1) * NS_PER_S;
    h[at + CNT] = 1;
    h[at + SUM] = value;
    h[at + MAX] = value;
    h[at + MIN] = value;
  }
}

/** The start of the reservoir a RING cursor points into (reservoirs start at multiples of their width, a power of two). */
function ringBase(ring: number): number {
  return (ring - 1) & ~(RING_WIDTH - 1);
}

/**
 * One series: its head in the store, its older buckets, and the readers'
 * API. `new Series()` makes a standalone one with a store of its own.
 */
export class Series {
  /** index of the head in the store's slab; -1 once detached */
  at: number;
  /** closed buckets, oldest first from `first`: [sec, cnt, sum, max, min]... */
  private older: number[] | undefined;
  private first = 0;

  /** `metric`: the id of the metric this series records, for nodes that keep several. */
  constructor(
    sampling = true,
    readonly metric = -1,
    readonly store: SeriesStore = new SeriesStore(1),
  ) {
    this.at = store.attach(this);
    if (sampling) store.setSampling(this.at, true);
  }

  get sampling(): boolean {
    return this.at >= 0 && this.head(RING) !== 0;
  }
  set sampling(on: boolean) {
    if (this.at >= 0) this.store.setSampling(this.at, on);
  }

  /** Records one observation at boot time `tSec` (seconds, fractional). */
  add(tSec: number, value: number): void {
    this.observe(tSec * NS_PER_S, value);
  }

  /** Records one observation at boot time `tNs`; a detached series records nothing. */
  observe(tNs: number, value: number): void {
    if (this.at >= 0) this.store.add(this.at, tNs, value);
  }

  /** Frees the head (the node or edge is gone); the series reads as empty after. */
  detach(): void {
    if (this.at < 0) return;
    this.store.detach(this.at);
    this.at = -1;
    this.older = undefined;
  }

  private head(field: number): number {
    return this.at < 0 ? HEAD[field]! : this.store.heads.f[this.at + field]!;
  }

  private totalsField(field: number): number {
    return this.at < 0 ? TOTALS[field]! : this.store.total(this.at, field);
  }

  get lastValue(): number {
    return this.head(LAST_VALUE);
  }
  /** newest observation time, ns (0: none) */
  get lastNs(): number {
    return this.head(LAST_NS);
  }
  /** first observation time, ns (0: none) */
  get firstNs(): number {
    return this.totalsField(FIRST_NS);
  }
  /** lifetime sum */
  get total(): number {
    return this.totalsField(CLOSED_SUM) + this.head(SUM);
  }
  get totalCount(): number {
    return this.totalsField(CLOSED_COUNT) + this.head(CNT);
  }
  /** lifetime maximum (0 when empty) */
  get max(): number {
    if (this.totalCount === 0) return 0;
    return Math.max(this.totalsField(CLOSED_MAX), this.head(CNT) > 0 ? this.head(MAX) : -Infinity);
  }

  /** Takes a closed bucket from the store, keeping at most MAX_BUCKETS in all (the newest is in the head). */
  keep(sec: number, cnt: number, sum: number, max: number, min: number): void {
    const d = (this.older ??= []);
    if ((d.length - this.first) / F >= MAX_BUCKETS - 1) this.first += F; // drop the oldest
    if (this.first > 0 && this.first >= d.length / 2) {
      // compact occasionally instead of shifting every time
      d.copyWithin(0, this.first);
      d.length -= this.first;
      this.first = 0;
    }
    d.push(sec, cnt, sum, max, min);
  }

  /** Aggregate over (nowSec - windowSec, nowSec]; undefined = no data (for max/min/avg/percentiles). */
  aggregate(agg: Agg, nowSec: number, windowSec: number): number | undefined {
    if (this.at < 0) return agg === 'count' || agg === 'sum' ? 0 : agg === 'rate' && windowSec > 0 ? 0 : undefined;
    const h = this.store.heads.f;
    const at = this.at;
    if (agg === 'last') return h[at + CNT]! > 0 ? h[at + LAST_VALUE] : undefined;
    const from = nowSec - windowSec;
    let count = 0;
    let sum = 0;
    let max = -Infinity;
    let min = Infinity;
    // a bucket counts if any part of its second is inside the window: the newest, then older ones
    if (h[at + CNT]! > 0 && h[at + END_NS]! / NS_PER_S > from) {
      count = h[at + CNT]!;
      sum = h[at + SUM]!;
      max = h[at + MAX]!;
      min = h[at + MIN]!;
      const d = this.older;
      if (d !== undefined) {
        for (let i = d.length - F; i >= this.first; i -= F) {
          if (d[i]! + 1 <= from) break;
          count += d[i + 1]!;
          sum += d[i + 2]!;
          if (d[i + 3]! > max) max = d[i + 3]!;
          if (d[i + 4]! < min) min = d[i + 4]!;
        }
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
    return this.totalCount > 0 ? nowSec - this.lastNs / NS_PER_S : Infinity;
  }

  private percentile(p: number, fromSec: number): number | undefined {
    const ring = this.head(RING);
    if (ring === 0) return undefined;
    const r = this.store.samples.f;
    const base = ringBase(ring);
    // insertion sort into a scratch array: at most RESERVOIR values, and no garbage per read
    const vals = SCRATCH;
    let n = 0;
    for (let k = base; k < base + RING_WIDTH; k += 2) {
      if (!(r[k + 1]! > fromSec)) continue;
      const v = r[k]!;
      let j = n++;
      for (; j > 0 && vals[j - 1]! > v; j--) vals[j] = vals[j - 1]!;
      vals[j] = v;
    }
    if (n === 0) return undefined;
    return vals[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))]!;
  }
}

export const secondsOf = (ns: number): number => ns / NS_PER_S;
