// Training identity from /proc/<pid>/environ: the bounded reader against real
// processes (a spawned child with a known environment, one with an environment
// over the cap, one that exited) and the rank/job derivation from literal maps.
import t from 'tap';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ENVIRON_MAX_BYTES, parseEnviron, readEnviron } from '../src/identity/environ';
import {
  DEFAULT_JOB_VARS,
  identityEnvKeys,
  jobFromEnviron,
  parseJobVars,
  rankFromEnviron,
  slurmFromEnviron,
  JobVarsError,
} from '../src/identity/rank';
import { resolveConfig, ConfigError } from '../src/config/config';

const m = (o: Record<string, string>) => new Map(Object.entries(o));

function sleeper(env: Record<string, string>) {
  const child = spawn('/bin/sleep', ['30'], { env, stdio: 'ignore' });
  return child;
}

t.test('parseEnviron: NUL-separated, "=" in values, entries without "=", key filter', async (t) => {
  const text = 'A=1\0B=x=y\0NOEQ\0=lead\0C=\0';
  t.same(
    [...parseEnviron(text)],
    [
      ['A', '1'],
      ['B', 'x=y'],
      ['C', ''],
    ],
  );
  t.same([...parseEnviron(text, new Set(['B']))], [['B', 'x=y']]);
  t.same([...parseEnviron('')], []);
});

t.test('readEnviron: a real child, only the asked keys kept', async (t) => {
  const child = sleeper({ RANK: '3', LOCAL_RANK: '1', WORLD_SIZE: '8', TORCHELASTIC_RUN_ID: 'llama-7b', SECRET_TOKEN: 'hunter2' });
  t.teardown(() => child.kill('SIGKILL'));
  await new Promise((r) => child.once('spawn', r));
  // exec may not have happened yet right after 'spawn': wait until /proc shows sleep's environment
  let r = readEnviron(child.pid!, { keys: identityEnvKeys() });
  for (let i = 0; i < 200 && ('env' in r ? !r.env.has('RANK') : true); i++) {
    await new Promise((res) => setTimeout(res, 5));
    r = readEnviron(child.pid!, { keys: identityEnvKeys() });
  }
  t.ok('env' in r, 'read');
  if (!('env' in r)) return;
  t.notOk(r.env.has('SECRET_TOKEN'), 'variables not asked for are not kept');
  t.same(rankFromEnviron(r.env), { rank: 3, local_rank: 1, world_size: 8, job: 'llama-7b' });
});

t.test('readEnviron: an environment over the cap is too-large, not a partial map', async (t) => {
  // MAX_ARG_STRLEN is 128 KiB per string: three 100 KB variables exceed the 256 KiB cap
  const big = 'x'.repeat(100_000);
  const child = sleeper({ A: big, B: big, C: big, RANK: '0' });
  t.teardown(() => child.kill('SIGKILL'));
  await new Promise((r) => child.once('spawn', r));
  let r = readEnviron(child.pid!);
  for (let i = 0; i < 200 && !('unknown' in r); i++) {
    await new Promise((res) => setTimeout(res, 5));
    r = readEnviron(child.pid!);
  }
  t.same('unknown' in r && r.unknown, 'too-large');
  t.match('unknown' in r && r.detail, `more than ${ENVIRON_MAX_BYTES} bytes`);
  // a smaller cap applies to a small file too
  const small = readEnviron(process.pid, { maxBytes: 8 });
  t.same('unknown' in small && small.unknown, 'too-large');
});

t.test('readEnviron: a process that exited is gone; a file that cannot be read is unreadable', async (t) => {
  const child = sleeper({});
  await new Promise((r) => child.once('spawn', r));
  const pid = child.pid!;
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r)); // reaped: /proc/<pid> is gone
  const r = readEnviron(pid);
  t.same('unknown' in r && r.unknown, 'gone');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xctl-environ-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true }));
  const u = readEnviron(0, { file: dir }); // EISDIR
  t.same('unknown' in u && u.unknown, 'unreadable');
  t.match('unknown' in u && u.detail, 'EISDIR');
  // a kernel thread has no address space: open() fails with ESRCH while /proc/2 exists
  const k = readEnviron(2);
  t.same('unknown' in k && k.unknown, 'unreadable');
  t.match('unknown' in k && k.detail, 'kernel thread');
});

t.test('rank variables by launcher', async (t) => {
  t.same(
    rankFromEnviron(m({ RANK: '17', LOCAL_RANK: '1', WORLD_SIZE: '32', GROUP_RANK: '8', MASTER_ADDR: '10.0.0.1', MASTER_PORT: '29500' })),
    {
      rank: 17,
      local_rank: 1,
      world_size: 32,
      group_rank: 8,
      job: '10.0.0.1:29500',
    },
  );
  t.same(rankFromEnviron(m({ OMPI_COMM_WORLD_RANK: '5', OMPI_COMM_WORLD_LOCAL_RANK: '1', OMPI_COMM_WORLD_SIZE: '16' })), {
    rank: 5,
    local_rank: 1,
    world_size: 16,
    job: 'unknown',
  });
  t.same(rankFromEnviron(m({ PMI_RANK: '2', PMI_SIZE: '4' })), { rank: 2, world_size: 4, job: 'unknown' });
  t.same(rankFromEnviron(m({ SLURM_PROCID: '9', SLURM_LOCALID: '1', SLURM_NTASKS: '16', SLURM_JOB_ID: '4242' })), {
    rank: 9,
    local_rank: 1,
    world_size: 16,
    job: '4242',
  });
  // RANK wins over the launcher's own variables (torchrun inside srun)
  t.equal(rankFromEnviron(m({ RANK: '1', SLURM_PROCID: '0' }))!.rank, 1);
  // no rank variable: not a rank, even with a job id
  t.equal(rankFromEnviron(m({ SLURM_JOB_ID: '1', WORLD_SIZE: '8' })), undefined);
  // malformed values are skipped, the next variable is used
  t.equal(rankFromEnviron(m({ RANK: 'abc', PMI_RANK: '4' }))!.rank, 4);
  t.equal(rankFromEnviron(m({ RANK: '-1' })), undefined);
  t.equal(rankFromEnviron(m({ RANK: '' })), undefined);
});

t.test('job id precedence: TORCHELASTIC_RUN_ID > SLURM_JOB_ID > MASTER_ADDR:MASTER_PORT, and the override', async (t) => {
  const all = m({ TORCHELASTIC_RUN_ID: 'run-a', SLURM_JOB_ID: '77', MASTER_ADDR: 'h', MASTER_PORT: '1' });
  t.equal(jobFromEnviron(all), 'run-a');
  t.equal(jobFromEnviron(m({ TORCHELASTIC_RUN_ID: 'none', SLURM_JOB_ID: '77' })), '77', 'torchrun default "none" names no job');
  t.equal(jobFromEnviron(m({ MASTER_ADDR: 'h', MASTER_PORT: '1' })), 'h:1');
  t.equal(jobFromEnviron(m({ MASTER_ADDR: 'h' })), undefined, 'a joined entry needs every part');
  const custom = parseJobVars('MY_JOB, SLURM_JOB_ID');
  t.same(custom, [['MY_JOB'], ['SLURM_JOB_ID']]);
  t.equal(jobFromEnviron(m({ MY_JOB: 'exp-9', SLURM_JOB_ID: '77' }), custom), 'exp-9');
  t.equal(rankFromEnviron(m({ RANK: '0', MY_JOB: 'exp-9', TORCHELASTIC_RUN_ID: 'r' }), custom)!.job, 'exp-9');
  t.ok(identityEnvKeys(custom).has('MY_JOB'), 'the reader keeps the override variables');
  t.throws(() => parseJobVars('A,1B'), JobVarsError);
  t.throws(() => parseJobVars(' , '), JobVarsError);
});

t.test('slurm from environ', async (t) => {
  t.same(slurmFromEnviron(m({ SLURM_JOB_ID: '4242', SLURM_STEP_ID: '0' })), { job: '4242', step: '0' });
  t.same(slurmFromEnviron(m({ SLURM_JOB_ID: '4242' })), { job: '4242' });
  t.equal(slurmFromEnviron(m({ SLURM_JOB_ID: 'x' })), undefined);
});

t.test('config key identity.job_vars: default, environment, validation', async (t) => {
  t.equal(resolveConfig({ file: null, env: {} }).config.identity.jobVars, DEFAULT_JOB_VARS);
  t.equal(resolveConfig({ file: null, env: { XCTL_JOB_VARS: 'MY_JOB' } }).config.identity.jobVars, 'MY_JOB');
  t.throws(() => resolveConfig({ file: null, env: { XCTL_JOB_VARS: 'A:2x' } }), ConfigError);
  t.equal(resolveConfig({ file: null, env: {} }).config.identity.hostRoot, '/');
});
