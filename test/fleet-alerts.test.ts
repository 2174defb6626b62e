// XctlJobStraggler (deploy/prometheus/alerts.yaml) under `promtool test rules`:
// it fires for the rank that holds a job back (outside the collective the
// others wait in, or behind in completed collectives) and stays silent for a
// healthy job (test/fixtures/prometheus/job-straggler.test.yaml). A broken
// copy of the expectations must fail, so the test can tell.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT, run, which } from './helpers/ops';

const PROMTOOL = which('promtool') ?? '/usr/bin/promtool';
const FIXTURE = path.join(ROOT, 'test/fixtures/prometheus/job-straggler.test.yaml');

t.test('promtool test rules: XctlJobStraggler fires for the right rank, silent for a healthy job', async (t) => {
  const r = await run(PROMTOOL, ['test', 'rules', FIXTURE]);
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.match(r.stdout + r.stderr, /SUCCESS/);
});

t.test('the same test expecting the wrong rank fails', async (t) => {
  const wrong = path.join(path.dirname(FIXTURE), `wrong-${process.pid}.test.yaml`);
  fs.writeFileSync(wrong, fs.readFileSync(FIXTURE, 'utf8').replace('job: train-1, rank: "2"', 'job: train-1, rank: "1"'));
  t.teardown(() => fs.rmSync(wrong, { force: true }));
  const r = await run(PROMTOOL, ['test', 'rules', wrong]);
  t.not(r.code, 0, 'promtool reports the mismatch');
  t.match(r.stdout + r.stderr, /FAILED/);
});
