// proc family against real processes: exit codes, fatal signals, OOM kills,
// exec and fork, each attributed to the right pid.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { capture } from './helpers/live';
import { helperPath } from './fixtures/cbuild';
import { memoryLimit, spawnInCgroup } from './fixtures/cgroup';
import type { ExecEvent } from '../src/kinds/exec';
import type { ExitEvent } from '../src/kinds/exit';
import type { ForkEvent } from '../src/kinds/fork';
import type { OomKillEvent } from '../src/kinds/oom-kill';
import type { SignalEvent } from '../src/kinds/signal';

const exited = (c: ChildProcess) =>
  new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    c.on('exit', (code, signal) => resolve({ code, signal })),
  );

const cap = capture({ families: ['proc'] });
t.teardown(() => cap.stop());

t.test('exit code 3 is reported with the pid, exec and fork', async (t) => {
  const bin = await helperPath('exit-code');
  const child = spawn(bin, ['3']);
  const pid = child.pid!;
  const res = await exited(child);
  t.equal(res.code, 3, 'the helper really exited 3');
  const [exit] = await cap.waitFor<ExitEvent>((e) => e.kind === 'exit' && e.pid === pid, { what: `exit of ${pid}` });
  t.equal(exit!.exit_code, 3, 'exit_code');
  t.equal(exit!.signal, 0, 'no signal');
  t.equal(exit!.comm, 'exit-code', 'comm');
  t.equal(exit!.ppid, process.pid, 'ppid is this test process');
  t.ok(exit!.runtime_ns > 0 && exit!.runtime_ns < 10e9, `runtime ${exit!.runtime_ns} ns is plausible`);
  const [exec] = await cap.waitFor<ExecEvent>((e) => e.kind === 'exec' && e.pid === pid, { what: 'exec' });
  t.equal(exec!.filename, bin.slice(0, 63), 'exec filename');
  const [fork] = await cap.waitFor<ForkEvent>((e) => e.kind === 'fork' && e.child_pid === pid, { what: 'fork' });
  t.equal(fork!.pid, process.pid, 'forked by this test process');
  t.equal(fork!.child_start_ns, exit!.start_ns, 'fork and exit agree on the start time (pid-reuse guard)');
});

t.test('SIGSEGV: exit carries signal 11, and the fatal signal event names sender and target', async (t) => {
  const child = spawn(await helperPath('segv'), []);
  const pid = child.pid!;
  const res = await exited(child);
  t.equal(res.signal, 'SIGSEGV', 'the helper really segfaulted');
  const [exit] = await cap.waitFor<ExitEvent>((e) => e.kind === 'exit' && e.pid === pid, { what: 'exit' });
  t.equal(exit!.signal, 11, 'terminating signal');
  t.equal(exit!.signal_name, 'SIGSEGV');
  t.equal(exit!.exit_code, 0, 'no exit code when killed');
  t.equal(exit!.core_dumped, false, 'RLIMIT_CORE=0: no core');
  const [sig] = await cap.waitFor<SignalEvent>((e) => e.kind === 'signal' && e.target_pid === pid && e.sig === 11, { what: 'signal' });
  t.equal(sig!.pid, pid, 'a fault is signalled by the faulting process itself');
  t.equal(sig!.handled, false, 'no handler installed');
});

t.test('SIGTERM from another process names the sender', async (t) => {
  const victim = spawn('sleep', ['30']);
  const victimGone = exited(victim);
  // the shell's builtin kill: the sender is the shell process
  const killer = spawn('sh', ['-c', 'kill -TERM "$1"', 'sh', String(victim.pid)]);
  await exited(killer);
  await victimGone;
  const [sig] = await cap.waitFor<SignalEvent>((e) => e.kind === 'signal' && e.target_pid === victim.pid && e.sig === 15, {
    what: 'SIGTERM',
  });
  t.equal(sig!.pid, killer.pid, 'sender is the kill process');
  t.equal(sig!.comm, 'sh');
  t.equal(sig!.target_comm, 'sleep');
  const [exit] = await cap.waitFor<ExitEvent>((e) => e.kind === 'exit' && e.pid === victim.pid, { what: 'exit' });
  t.equal(exit!.signal, 15);
});

t.test('OOM kill in a 32 MiB memory cgroup reports the victim pid', async (t) => {
  const cg = await memoryLimit({ bytes: 32 << 20 });
  t.teardown(() => cg.cleanup());
  const child = spawnInCgroup([cg.path], await helperPath('memhog'), ['256'], { stdio: 'ignore' });
  const pid = child.pid!;
  const res = await exited(child);
  t.equal(res.signal, 'SIGKILL', 'memhog was killed');
  const [oom] = await cap.waitFor<OomKillEvent>((e) => e.kind === 'oom_kill' && e.pid === pid, { what: `oom_kill of ${pid}` });
  t.equal(oom!.comm, 'memhog');
  t.ok(oom!.anon_rss_kb > 16 * 1024, `victim anon rss ${oom!.anon_rss_kb} kB is near the 32 MiB limit`);
  t.ok(oom!.anon_rss_kb < 64 * 1024, 'and not above it by much');
  const [exit] = await cap.waitFor<ExitEvent>((e) => e.kind === 'exit' && e.pid === pid, { what: 'exit' });
  t.equal(exit!.signal, 9, 'then exits by SIGKILL');
});
