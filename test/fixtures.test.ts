// Tests of the fault injectors themselves: each fixture must produce the real
// kernel-visible effect it promises and leave nothing behind.
import { waitForLine } from '../src/faults/child-output';
import { faultProgram } from '../src/faults/programs';
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { helperPath, runOnCpu } from './fixtures/cbuild';
import { blkioThrottle, CGROUP_ROOT, cpuset, memoryLimit, spawnInCgroup } from './fixtures/cgroup';
import { run } from '../src/faults/exec';
import { loopDevice } from './fixtures/loopdev';
import { lossyLink } from '../src/faults/netns';
import { cmdStep, withRollback } from '../src/faults/teardown';

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Collect output and wait for exit; kill and fail if it takes longer than `timeoutMs`. */
function finish(child: ChildProcess, what: string, timeoutMs = 30_000): Promise<Exit> {
  const t0 = process.hrtime.bigint();
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what}: still running after ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`${what}: spawn failed: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Number(process.hrtime.bigint() - t0) / 1e6 });
    });
  });
}

/** Resolve with the first stdout match of `re` (the process keeps running). */

const ours = `xct-${process.pid.toString(36)}-`;

/** Everything this process could have left behind, by kind. */
async function leftovers(): Promise<Record<string, string[]>> {
  const netns = (await run('ip', ['netns', 'list'])).stdout.split('\n').filter((l) => l.startsWith(ours));
  const loops = (await run('losetup', ['--list', '--noheadings', '--raw', '--output', 'NAME,BACK-FILE'])).stdout
    .split('\n')
    .filter((l) => l.includes(`/${ours}`));
  const cgroups = ['blkio', 'memory', 'cpuset'].flatMap((c) =>
    readdirSync(join(CGROUP_ROOT, c))
      .filter((n) => n.startsWith(ours))
      .map((n) => `${c}/${n}`),
  );
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.includes(`/${ours}`));
  const tmp = readdirSync(tmpdir()).filter((n) => n.startsWith(ours));
  return { netns, loops, cgroups, mounts, tmp };
}

// Root only, like all of CI: never skipped (a non-root run fails loudly instead).
t.test('C helpers build and behave', async (t) => {
  const exitCode = await finish(spawn(await helperPath('exit-code'), ['3']), 'exit-code 3');
  t.equal(exitCode.code, 3, 'exit-code 3 exits with status 3');

  const segv = await finish(spawn(await helperPath('segv')), 'segv');
  t.equal(segv.signal, 'SIGSEGV', 'segv dies by SIGSEGV');

  const abrt = await finish(spawn(await helperPath('abort')), 'abort');
  t.equal(abrt.signal, 'SIGABRT', 'abort dies by SIGABRT');

  const pp = spawn(await helperPath('pipe-pair'), ['1']);
  const done = finish(pp, 'pipe-pair 1');
  const m = await waitForLine(pp, /^reader (\d+) writer (\d+)$/m, 'pipe-pair');
  t.equal(Number(m[1]), pp.pid, 'reader pid is the spawned process');
  t.not(m[2], m[1], 'writer is a different process');
  const ppExit = await done;
  t.equal(ppExit.code, 0, 'pipe-pair exits 0');
  t.match(ppExit.stdout, /read (9|10) lines/, 'reader got ~10 lines in 1 s');

  const hog = await runOnCpu(0, await helperPath('cpu-hog'), ['0.3']);
  const hogDone = finish(hog, 'cpu-hog on cpu 0');
  await new Promise((r) => setTimeout(r, 100));
  const status = readFileSync(`/proc/${hog.pid}/status`, 'utf8');
  t.match(status, /^Cpus_allowed_list:\s+0$/m, "runOnCpu pins the exec'd program to CPU 0");
  t.equal((await hogDone).code, 0, 'cpu-hog exits 0');

  const gp = await finish(spawn(await helperPath('getpgid-loop'), ['200000']), 'getpgid-loop');
  const gm = /calls 200000 elapsed_ns (\d+)/.exec(gp.stdout);
  t.ok(gm, 'getpgid-loop reports elapsed ns');
  t.comment(`getpgid-loop: ${(Number(gm?.[1]) / 200000).toFixed(0)} ns/syscall`);
});

t.test('lossy veth link makes the sender retransmit', async (t) => {
  const port = randomInt(20000, 40000);
  const link = await lossyLink({ lossProbability: 0.2, port, ipv6: true });
  t.teardown(() => link.cleanup());
  const node = process.execPath;

  const sink = link.spawnIn(link.nsB, node, [faultProgram('tcp-sink.js'), link.addrB, String(port)]);
  await waitForLine(sink, /^listening$/m, `tcp-sink in ${link.nsB}`);
  const before = await link.snmpRetransSegs(link.nsA);
  const sender = link.spawnIn(link.nsA, node, [faultProgram('tcp-sender.js'), link.addrB, String(port), '2']);
  const sent = finish(sender, 'tcp-sender (IPv4, 2 s)');
  const hello = await waitForLine(sender, /^pid (\d+) sport (\d+)$/m, 'tcp-sender');
  t.equal(Number(hello[1]), sender.pid, 'spawnIn child pid is the node process itself (ip netns exec execs in place)');
  const res = await sent;
  t.equal(res.code, 0, `sender exits 0 (${res.stdout.trim().split('\n').pop()})`);
  const delta = (await link.snmpRetransSegs(link.nsA)) - before;
  t.ok(delta > 0, `RetransSegs in ${link.nsA} grew: delta ${delta}`);
  t.comment(`IPv4 20% loss, 2 s: RetransSegs delta ${delta}, sender wall ${res.ms.toFixed(0)} ms`);

  // IPv6 path: a second sink on the v6 address, same port, same rule set.
  const sink6 = link.spawnIn(link.nsB, node, [faultProgram('tcp-sink.js'), link.addr6B ?? '', String(port)]);
  await waitForLine(sink6, /^listening$/m, 'tcp-sink on IPv6');
  const before6 = await link.snmpRetransSegs(link.nsA);
  const res6 = await finish(
    link.spawnIn(link.nsA, node, [faultProgram('tcp-sender.js'), link.addr6B ?? '', String(port), '1']),
    'tcp-sender (IPv6, 1 s)',
  );
  t.equal(res6.code, 0, 'IPv6 sender exits 0');
  const delta6 = (await link.snmpRetransSegs(link.nsA)) - before6;
  t.ok(delta6 > 0, `IPv6 RetransSegs delta ${delta6}`);

  await link.cleanup();
  await link.cleanup(); // idempotent
  const list = (await run('ip', ['netns', 'list'])).stdout;
  t.notOk(list.includes(link.nsA) || list.includes(link.nsB), 'both namespaces are gone');
  t.ok(sink.exitCode !== null || sink.signalCode !== null, 'cleanup killed the sink');
});

t.test('rollback tears down a half-built fixture', async (t) => {
  let ns = '';
  await t.rejects(
    withRollback('half-built', async (td) => {
      ns = `${ours}rb`;
      td.add(cmdStep(`delete netns ${ns}`, 'ip', ['netns', 'del', ns], /No such file/));
      await run('ip', ['netns', 'add', ns]);
      await run('ip', ['netns', 'exec', ns, 'iptables', '-A', 'NOPE']); // fails
    }),
    /iptables -A NOPE/,
    'setup error names the failed command',
  );
  t.notOk((await run('ip', ['netns', 'list'])).stdout.includes(ns), `${ns} removed by rollback`);
});

t.test('blkio throttle slows O_DIRECT writes to a loop device', async (t) => {
  const dev = await loopDevice({ sizeMiB: 64, backing: 'file' });
  t.teardown(() => dev.cleanup());
  t.equal(dev.devT, dev.major * 2 ** 20 + dev.minor, `devT of ${dev.device} (${dev.major}:${dev.minor}) = ${dev.devT}`);
  const dw = await helperPath('direct-write');
  const args = [dev.device, '4', String(256 << 10)];

  const free = await finish(spawn(dw, args), 'direct-write unthrottled');
  t.equal(free.code, 0, 'unthrottled direct-write succeeds');

  const cg = await blkioThrottle({ major: dev.major, minor: dev.minor, writeBps: 1 << 20 });
  t.teardown(() => cg.cleanup());
  const slow = await finish(spawnInCgroup([cg.path], dw, args), 'direct-write throttled to 1 MiB/s');
  t.equal(slow.code, 0, `throttled direct-write succeeds (${slow.stderr.trim()})`);
  const total = Number(/total ([\d.]+) ms/.exec(slow.stdout)?.[1]);
  const freeTotal = Number(/total ([\d.]+) ms/.exec(free.stdout)?.[1]);
  t.ok(total >= 750, `4 x 256 KiB at 1 MiB/s took ${total} ms (>= 750)`);
  t.comment(`unthrottled ${freeTotal} ms, throttled ${total} ms; per write: ${slow.stdout.match(/write \d+ [\d.]+/g)?.join(', ')}`);

  await cg.cleanup();
  await dev.cleanup();
  await dev.cleanup();
});

t.test('loop device on a full tmpfs fails writes', async (t) => {
  const dev = await loopDevice({ sizeMiB: 16, backing: 'full-tmpfs' });
  t.teardown(() => dev.cleanup());
  const res = await finish(
    spawn(await helperPath('direct-write'), [dev.device, '4', String(256 << 10)]),
    'direct-write to full-tmpfs loop',
  );
  const errno = Number(/^error (\d+)$/m.exec(res.stdout)?.[1]);
  t.equal(res.code, 1, 'direct-write exits 1');
  t.ok(errno === 28 || errno === 5, `write failed with errno ${errno} (${errno === 28 ? 'ENOSPC' : errno === 5 ? 'EIO' : '?'})`);
  t.comment(`full-tmpfs write errno: ${errno}; output: ${res.stdout.trim().replace(/\n/g, ' | ')}`);
  await dev.cleanup();
});

t.test('memory cgroup OOM-kills memhog', async (t) => {
  const cg = await memoryLimit({ bytes: 32 << 20 });
  t.teardown(() => cg.cleanup());
  const res = await finish(spawnInCgroup([cg.path], await helperPath('memhog'), ['128']), 'memhog 128 MiB in 32 MiB cgroup');
  t.equal(res.signal, 'SIGKILL', `memhog killed by SIGKILL (last: ${res.stdout.trim().split('\n').pop()})`);
  const kills = cg.oomKills();
  if (kills === undefined) t.comment('memory.oom_control has no oom_kill field on this kernel');
  else t.ok(kills >= 1, `memory.oom_control oom_kill = ${kills}`);
  await cg.cleanup();
});

t.test('cpuset cgroup confines a spawned program', async (t) => {
  const cg = await cpuset({ cpus: '0' });
  t.teardown(() => cg.cleanup());
  const hog = spawnInCgroup([cg.path], await helperPath('cpu-hog'), ['0.3']);
  const done = finish(hog, 'cpu-hog in cpuset 0');
  await new Promise((r) => setTimeout(r, 100));
  t.same(cg.pids(), [hog.pid], "the exec'd program (same pid as the wrapper) is the only member");
  t.match(readFileSync(`/proc/${hog.pid}/status`, 'utf8'), /^Cpus_allowed_list:\s+0$/m, 'allowed CPUs = 0');
  t.equal((await done).code, 0, 'cpu-hog exits 0');
  await cg.cleanup();
});

t.test('nothing is left behind', async (t) => {
  t.same(
    await leftovers(),
    { netns: [], loops: [], cgroups: [], mounts: [], tmp: [] },
    'no netns, loop devices, cgroups, mounts or temp dirs',
  );
});
