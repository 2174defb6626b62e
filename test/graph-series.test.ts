// The windowed series behind every metric and edge: per-second buckets, the
// window rule (a bucket counts if any part of its second is inside), the
// bucket cap, late records, the percentile reservoir.
import t from 'tap';
import { Series, SeriesStore } from '../src/graph/series';

t.test('aggregates over the buckets inside the window', async (t) => {
  const s = new Series();
  s.add(10.1, 1);
  s.add(10.5, 3);
  s.add(11.2, 5);
  s.add(13.9, 2);
  // now 14 s, 2 s window: from 12 s; second 13 is in, second 11 ends at 12 and is out
  t.equal(s.aggregate('count', 14, 2), 1);
  t.equal(s.aggregate('sum', 14, 2), 2);
  t.equal(s.aggregate('max', 14, 2), 2);
  // 4 s window: from 10 s, seconds 10, 11 and 13
  t.equal(s.aggregate('count', 14, 4), 4);
  t.equal(s.aggregate('sum', 14, 4), 11);
  t.equal(s.aggregate('max', 14, 4), 5);
  t.equal(s.aggregate('min', 14, 4), 1);
  t.equal(s.aggregate('avg', 14, 4), 2.75);
  t.equal(s.aggregate('rate', 14, 4), 11 / 4);
  t.equal(s.aggregate('last', 14, 4), 2);
  t.equal(s.totalCount, 4);
  t.equal(s.total, 11);
  t.equal(s.lastValue, 2);
  t.equal(s.idleFor(15.9), 2);
  // a window that ended before the newest second still sees nothing newer than it
  t.equal(s.aggregate('count', 100, 10), 0, 'all of it is older than 90 s');
  t.equal(s.aggregate('max', 100, 10), undefined, 'no data: max is undefined, not 0');
});

t.test('a late record (another CPU ring, a batch behind) folds into the newest bucket', async (t) => {
  const s = new Series();
  s.add(20.5, 4);
  s.add(19.2, 6);
  t.equal(s.aggregate('count', 21, 1), 2);
  t.equal(s.aggregate('max', 21, 1), 6);
  t.equal(s.aggregate('min', 21, 1), 4);
});

t.test('at most 64 buckets are kept; the lifetime totals keep counting', async (t) => {
  const s = new Series(false);
  for (let sec = 0; sec < 200; sec++) s.add(sec + 0.5, sec);
  t.equal(s.totalCount, 200);
  t.equal(s.total, (199 * 200) / 2);
  t.equal(s.aggregate('count', 200, 1000), 64, 'the newest 64 seconds');
  t.equal(s.aggregate('sum', 200, 1000), ((136 + 199) * 64) / 2);
  t.equal(s.aggregate('min', 200, 1000), 136);
  t.equal(s.aggregate('max', 200, 10), 199);
  t.equal(s.aggregate('count', 200, 10), 10);
});

t.test('percentiles over the newest 32 values in the window; none without a reservoir', async (t) => {
  const s = new Series();
  for (let v = 1; v <= 40; v++) s.add(50 + v / 100, v);
  t.equal(s.aggregate('p50', 51, 5), 24, 'the reservoir holds 9..40');
  t.equal(s.aggregate('p99', 51, 5), 40);
  t.equal(s.aggregate('p90', 51, 5), 37);
  t.equal(s.aggregate('count', 51, 5), 40, 'counts are exact, not sampled');
  const e = new Series(false);
  e.add(50, 1);
  t.equal(e.aggregate('p90', 51, 5), undefined);
});

t.test('an empty series', async (t) => {
  const s = new Series();
  t.equal(s.aggregate('count', 10, 5), 0);
  t.equal(s.aggregate('sum', 10, 5), 0);
  t.equal(s.aggregate('max', 10, 5), undefined);
  t.equal(s.aggregate('last', 10, 5), undefined);
  t.equal(s.idleFor(10), Infinity);
});

t.test('heads live in a shared slab: a detached head is reused, and starts empty', async (t) => {
  const store = new SeriesStore(2);
  const a = new Series(true, -1, store);
  const b = new Series(false, -1, store);
  for (let k = 0; k < 40; k++) a.add(10 + k / 100, k);
  b.add(10, 7);
  t.equal(store.heads.used, 2);
  t.equal(store.samples.used, 1, 'one reservoir: only the sampled series has one');
  const freed = a.at;
  a.detach();
  t.equal(store.heads.used, 1);
  t.equal(store.samples.used, 0, 'the reservoir went with its head');
  t.equal(a.aggregate('count', 11, 5), 0, 'a detached series reads as empty');
  t.equal(a.aggregate('max', 11, 5), undefined);
  a.add(10.5, 99);
  t.equal(b.aggregate('sum', 11, 5), 7, 'writing to a detached series touches no other');
  const c = new Series(true, -1, store);
  t.equal(c.at, freed, 'the freed head is reused');
  t.equal(c.totalCount, 0, 'the reused head starts empty');
  t.equal(c.aggregate('p90', 11, 5), undefined, 'and so does its reused reservoir');
  c.add(10.2, 3);
  t.equal(c.aggregate('p50', 11, 5), 3);
  t.equal(b.totalCount, 1, 'the other series is untouched');
  // growth keeps what was written
  const many = Array.from({ length: 100 }, (_, i) => {
    const s = new Series(false, -1, store);
    s.add(20, i);
    return s;
  });
  t.same(
    many.map((s) => s.total),
    many.map((_, i) => i),
  );
  t.equal(b.total, 7);
  t.equal(c.aggregate('p50', 11, 5), 3);
});

t.test('turning sampling off frees the reservoir; on again starts a new one', async (t) => {
  const store = new SeriesStore();
  const s = new Series(true, -1, store);
  s.add(5, 1);
  s.sampling = false;
  t.equal(store.samples.used, 0);
  t.equal(s.aggregate('p90', 6, 5), undefined);
  s.sampling = true;
  s.add(5.5, 2);
  t.equal(s.aggregate('p90', 6, 5), 2, 'only what came after');
  t.equal(s.aggregate('max', 6, 5), 2, 'the buckets kept everything');
  t.equal(s.aggregate('count', 6, 5), 2);
});

t.test('a store samples the metrics it is told to, in the series it has and those to come', async (t) => {
  const store = new SeriesStore();
  const lat = new Series(false, 3, store);
  const other = new Series(false, 4, store);
  const edge = new Series(false, -1, store);
  store.sampleMetrics([3]);
  t.ok(lat.sampling, 'an existing series of a sampled metric starts sampling');
  t.notOk(other.sampling, 'another metric does not');
  t.notOk(edge.sampling, 'edges (no metric) never do');
  lat.add(5.5, 7);
  t.equal(lat.aggregate('p50', 6, 5), 7);
  t.equal(store.samples.used, 1);
  store.sampleMetrics([4]);
  t.notOk(lat.sampling, 'a metric no longer sampled gives its reservoir back');
  t.ok(other.sampling);
  t.equal(store.samples.used, 1);
  t.equal(store.sampled[4], 1, 'series made later read the same table');
});

t.test('edge totals come from the series: count, sum, lifetime max, first and last time', async (t) => {
  const s = new Series(false);
  s.add(1.5, 4);
  s.add(2.5, 9);
  s.add(3.5, 2);
  t.equal(s.totalCount, 3);
  t.equal(s.total, 15);
  t.equal(s.max, 9, 'the max of a closed bucket counts');
  t.equal(s.firstNs, 1.5e9);
  t.equal(s.lastNs, 3.5e9);
  s.add(3.2, 1);
  t.equal(s.lastNs, 3.5e9, 'a late record does not move the newest time back');
});
