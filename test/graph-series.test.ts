// The windowed series behind every metric and edge: per-second buckets, the
// window rule (a bucket counts if any part of its second is inside), the
// bucket cap, late records, the percentile reservoir.
import t from 'tap';
import { Series } from '../src/graph/series';

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
