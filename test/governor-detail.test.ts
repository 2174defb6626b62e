// The governor cuts only per-event detail: `why` says so while (and for a window after) it did.
import t from 'tap';
import { CpuGovernor } from '../src/ops/governor';

t.test('detailNote: absent until raised, names the thresholds, stays for the window after', async (t) => {
  let work = 0;
  let now = 0;
  const g = new CpuGovernor({ budget: 0.05, apply: () => {}, workSeconds: () => work, now: () => now, calmIntervals: 1 });
  const step = (ratio: number) => {
    now += 5;
    work += ratio * 5;
    return g.check();
  };
  step(0.01);
  t.equal(g.detailNote(300), undefined, 'level 0, never raised: nothing to say');
  step(1);
  step(1);
  t.equal(g.level, 2);
  t.equal(
    g.detailNote(300),
    'detail reduced (CPU governor now at level 2): single sleeps under 160 ms carry no waker and IOs under 160 ms ' +
      'are not reported one by one; off-CPU and run-queue totals are exact',
  );
  step(0.001);
  step(0.001);
  t.equal(g.level, 0, 'calm: back to level 0');
  t.match(g.detailNote(300), /at level 2 earlier in this window\): single sleeps under 160 ms/, 'a window that saw level 2 says so');
  now += 301;
  t.equal(g.detailNote(300), undefined, 'a window after the last raised level: nothing');
  t.match(g.detailNote(400) ?? '', /earlier in this window/, 'a longer window still covers it');
});
