// Live /proc inspection against real processes: a pipe reader whose writer is
// SIGSTOPped (the wait eBPF never reports, as no wakeup ever comes), a blocked
// writer, a self-deadlocked reader, a zombie, a D-state vfork parent, signal
// handlers, and the fd-holder scan.
import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { helperPath } from './fixtures/cbuild';
import { hasHandler, inspectProcess, inspectThreads } from '../src/procfs/inspect';
import { findFdHolders, pipePeers } from '../src/procfs/fd-owners';

/** Spawn and wait for the first stdout match of `re`; the child is SIGKILLed at teardown. */
async function start(t: Test, cmd: string, args: string[], re: RegExp): Promise<{ child: ChildProcess; m: RegExpExecArray }> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => void child.kill('SIGKILL'));
  const m = await new Promise<RegExpExecArray>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const hit = re.exec(buf);
      if (hit) resolve(hit);
    });
    child.on('exit', (c) => reject(new Error(`${cmd} exited ${c} before printing ${re}: ${buf}`)));
  });
  return { child, m };
}

function killLater(t: Test, pid: number): void {
  t.teardown(() => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  });
}

/** Poll until `pred` holds (state changes are asynchronous to the signal that causes them). */
async function until(pred: () => boolean, ms = 3000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(20)) if (pred()) return true;
  return pred();
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

t.test('reader blocked on a pipe whose writer is SIGSTOPped', async (t) => {
  const { m } = await start(t, await helperPath('pipe-pair'), ['20'], /reader (\d+) writer (\d+)/);
  const reader = Number(m[1]);
  const writer = Number(m[2]);
  killLater(t, writer);
  await sleep(200);
  process.kill(writer, 'SIGSTOP');
  await sleep(300);

  const r = inspectProcess(reader)!;
  t.ok(r, 'reader inspected');
  t.equal(r.stateName, 'sleeping');
  t.equal(r.state, 'S');
  t.comment(`reader wchan: ${r.wchan}`);
  t.match(r.wchan, /pipe_read|pipe_wait/, 'sleeps in the pipe code');
  t.ok(
    r.syscall && r.syscall !== 'running' && r.syscall.name === 'read',
    `in read() (${JSON.stringify(r.syscall, (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))})`,
  );
  t.equal(r.blockedOn?.kind, 'pipe');
  t.equal(r.blockedOn?.syscall, 'read');
  t.match(r.blockedOn?.target, /^pipe:\[\d+\]$/);
  t.equal(r.blockedOn?.fd, 3, 'fd 3: pipe() after 0,1,2');
  t.equal(r.comm, 'pipe-pair');
  t.equal(r.ppid, process.pid);
  t.match(r.exe, /pipe-pair$/);
  t.same(r.cmdline.slice(1), ['20']);
  t.equal(r.threads, 1);
  t.equal(r.vanished, false);
  t.ok(r.startNs > 0n);
  t.ok((r.voluntaryCtxtSwitches ?? 0) >= 2, `woken by earlier ticks: ${r.voluntaryCtxtSwitches} voluntary switches`);
  t.ok(r.cgroups.length > 0 && r.cgroups.every((c) => c.path.startsWith('/')), `${r.cgroups.length} cgroup lines`);
  t.match(r.cpusAllowed, /^\d+([-,]\d+)*$/);

  const w = inspectProcess(writer)!;
  t.equal(w.stateName, 'stopped', 'writer is stopped');
  t.comment(`stopped writer wchan: ${w.wchan}, syscall: ${w.syscall === 'running' ? 'running' : w.syscall?.name}`);

  const [main] = inspectThreads(reader);
  t.equal(main?.tid, reader, 'single thread is the main one');
  t.equal(main?.blockedOn?.inode, r.blockedOn?.inode, 'thread view agrees');

  const peers = pipePeers(reader)!;
  t.ok(peers, 'pipePeers found the pipe');
  t.equal(peers.role, 'reader');
  t.equal(peers.inode, r.blockedOn?.inode);
  t.equal(peers.selfHoldsOtherEnd, false, 'the reader closed its write end');
  t.equal(peers.truncated, false);
  t.same(
    peers.peers.map((p) => [p.pid, p.stateName, p.state]),
    [[writer, 'stopped', 'T']],
    'the only write-end holder is the stopped writer',
  );
  t.equal(peers.peers[0]?.fd, 4);
  t.equal(pipePeers(writer), null, 'the writer is not blocked on the pipe');

  const t0 = performance.now();
  const holders = findFdHolders(r.blockedOn!.target!);
  t.comment(`findFdHolders: full /proc scan in ${(performance.now() - t0).toFixed(1)} ms`);
  t.same(
    holders.map((h) => [h.pid, h.fd, h.mode]).sort(),
    [
      [reader, 3, 'r'],
      [writer, 4, 'w'],
    ].sort(),
    'both ends, with their modes',
  );
  t.same(
    findFdHolders(r.blockedOn!.target!, { exclude: [reader] }).map((h) => h.pid),
    [writer],
    'exclude',
  );
  t.equal(findFdHolders(r.blockedOn!.target!, { budgetMs: -1 }).truncated, true, 'an exhausted budget is reported');
});

t.test('writer blocked on a full pipe nobody reads', async (t) => {
  const sh = spawn('sh', ['-c', 'yes | sleep 30'], { stdio: 'ignore' });
  t.teardown(() => void sh.kill('SIGKILL'));
  let yes: number | undefined;
  let sleeper: number | undefined;
  await until(() => {
    for (const c of childrenOf(sh.pid!)) {
      const p = inspectProcess(c);
      if (p?.comm === 'yes') yes = c;
      if (p?.comm === 'sleep') sleeper = c;
    }
    return yes !== undefined && sleeper !== undefined && inspectProcess(yes)?.stateName === 'sleeping';
  });
  t.ok(yes && sleeper, `yes ${yes} | sleep ${sleeper}`);
  killLater(t, yes!);
  killLater(t, sleeper!);
  const y = inspectProcess(yes!)!;
  t.comment(`blocked writer wchan: ${y.wchan}`);
  t.match(y.wchan, /pipe_write|pipe_wait/);
  t.match(y.blockedOn, { kind: 'pipe', fd: 1 });
  t.match(y.blockedOn?.syscall, /^writev?$/);
  const peers = pipePeers(yes!)!;
  t.equal(peers.role, 'writer');
  t.same(
    peers.peers.map((p) => [p.pid, p.comm, p.fd, p.stateName]),
    [[sleeper, 'sleep', 0, 'sleeping']],
    'the reader that never reads',
  );
});

t.test('reader that holds its own write end: never sees EOF', async (t) => {
  const { m } = await start(t, await helperPath('pipe-self-read'), [], /reader (\d+)/);
  const pid = Number(m[1]);
  t.ok(await until(() => inspectProcess(pid)?.blockedOn?.kind === 'pipe'), 'blocked on its pipe');
  const peers = pipePeers(pid)!;
  t.equal(peers.role, 'reader');
  t.same(peers.peers, [], 'no other process holds the write end');
  t.equal(peers.selfHoldsOtherEnd, true, 'but the reader itself does');
});

t.test('nonexistent pid', async (t) => {
  const pidMax = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
  t.equal(inspectProcess(pidMax + 1), null);
  t.same(inspectThreads(pidMax + 1), []);
  t.equal(pipePeers(pidMax + 1), null);
  // a pid that existed a moment ago
  const gone = spawn('true');
  await new Promise((r) => gone.on('exit', r));
  t.equal(inspectProcess(gone.pid!), null, 'a reaped child');
  t.throws(() => inspectProcess(0), RangeError, 'pid 0 is a programmer error');
});

t.test('zombie: a child exited, never reaped', async (t) => {
  // sh forks `sleep 0.1` then execs `sleep 5`, which never waits for it.
  const { child, m } = await start(t, 'sh', ['-c', 'sleep 0.1 & echo $!; exec sleep 5'], /(\d+)\n/);
  const zombie = Number(m[1]);
  t.ok(await until(() => inspectProcess(zombie)?.stateName === 'zombie'), 'becomes a zombie');
  const z = inspectProcess(zombie)!;
  t.equal(z.state, 'Z');
  t.equal(z.ppid, child.pid);
  t.equal(z.exe, undefined, 'no exe link once exited');
  t.same(z.cmdline, [], 'no argv once exited');
  t.equal(z.blockedOn, undefined);
  t.comment(`zombie wchan=${z.wchan} syscall=${JSON.stringify(z.syscall, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`);
});

t.test('uninterruptible (D) sleep: a vfork parent', async (t) => {
  const { m } = await start(t, await helperPath('vfork-wait'), ['10'], /parent (\d+)/);
  const parent = Number(m[1]);
  t.ok(await until(() => inspectProcess(parent)?.state === 'D'), 'parent goes to D');
  const p = inspectProcess(parent)!;
  t.equal(p.stateName, 'blocked');
  t.comment(`vfork parent wchan: ${p.wchan}`);
  t.ok(
    p.syscall !== 'running' && ['vfork', 'clone', 'clone3'].includes(p.syscall?.name ?? ''),
    `in ${p.syscall === 'running' ? 'running' : p.syscall?.name}`,
  );
  for (const c of childrenOf(parent)) killLater(t, c);
});

t.test('signal handlers from SigCgt', async (t) => {
  // Through env -u: tap's processinfo injects NODE_OPTIONS=--import=... into
  // every spawned env, and that preload installs handlers of its own (SIGUSR2 among them).
  // Note node always catches SIGUSR1 (inspector activation), handler or not.
  const script = "process.on('SIGUSR1',()=>{}); console.log('ready'); setTimeout(()=>{},5000)";
  const { child: env } = await start(t, 'env', ['-u', 'NODE_OPTIONS', process.execPath, '-e', script], /ready/);
  const node = { pid: env.pid }; // env execs node: same pid
  const n = inspectProcess(node.pid!)!;
  t.equal(typeof n.sigCaught, 'bigint');
  t.equal(hasHandler(n, 10), true, 'SIGUSR1 handled');
  t.equal(hasHandler(n, 12), false, 'SIGUSR2 not');
  t.equal(hasHandler(n.sigCaught, 10), true, 'the mask itself works too');
  t.ok((n.threads ?? 0) > 1, `node has ${n.threads} threads`);
  const threads = inspectThreads(node.pid!);
  t.equal(threads.length, n.threads);
  t.comment(
    `node threads: ${threads.map((x) => `${x.tid}:${x.comm}:${x.state}:${x.wchan ?? '-'}:${x.syscall === 'running' ? 'running' : x.syscall?.name}`).join(' ')}`,
  );
  t.equal(inspectThreads(node.pid!, 2).length, 2, 'limit');

  // a shell trapping USR2 only: the bit is per signal
  const sh = spawn('sh', ['-c', 'trap "echo usr2" USR2; echo ready; sleep 5 & wait'], { stdio: ['ignore', 'pipe', 'ignore'] });
  t.teardown(() => void sh.kill('SIGKILL'));
  await new Promise((r) => sh.stdout!.once('data', r));
  t.equal(hasHandler(inspectProcess(sh.pid!)!, 12), true, 'sh trap USR2: handled');
  t.equal(hasHandler(inspectProcess(sh.pid!)!, 10), false, 'USR1 not');
  for (const c of childrenOf(sh.pid!)) killLater(t, c);

  const { child: plain } = await start(t, 'sh', ['-c', 'echo ready; exec sleep 5'], /ready/);
  await until(() => inspectProcess(plain.pid!)?.comm === 'sleep');
  t.equal(hasHandler(inspectProcess(plain.pid!)!, 10), false, 'plain sleep handles nothing');
  t.throws(() => hasHandler(0n, 65), RangeError);
});
