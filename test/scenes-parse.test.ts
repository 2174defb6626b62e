// The pieces under the pressure scenes and the waits in progress that need no
// live fault: /proc/locks, cgroup mounts and paths, PSI text, and the tense
// of a cause (an exited process in the past, a live one in the present).
import t from 'tap';
import { devParts, lockHolders, parseLocks } from '../src/procfs/locks';
import { cgroupDirs, parseCgroupMounts, psiSomeTotal } from '../src/procfs/cgroup-stats';
import { parseCgroups } from '../src/procfs/parse';
import { loadRuleDir } from '../src/rules/loader';
import { defaultRulesDir } from '../src/rules';
import { Pipeline } from '../src/engine/pipeline';
import { explain } from '../src/why/why';
import { MI } from '../src/graph/vocabulary';

const LOCKS = `1: POSIX  ADVISORY  WRITE 4242 00:2d:1234 0 EOF
1: -> POSIX  ADVISORY  WRITE 4243 00:2d:1234 0 EOF
2: FLOCK  ADVISORY  WRITE 5000 fd:01:99 0 EOF
3: OFDLCK ADVISORY  READ  -1 00:2d:1234 0 EOF
`;

t.test('/proc/locks: holders and waiters', async (t) => {
  const l = parseLocks(LOCKS);
  t.equal(l.length, 4);
  t.same(l[1], { id: 1, waiting: true, kind: 'POSIX', access: 'WRITE', pid: 4243, major: 0, minor: 0x2d, inode: 1234 });
  t.same(
    lockHolders({ major: 0, minor: 0x2d, inode: 1234 }, ['POSIX', 'OFDLCK'], 4243, LOCKS).map((h) => h.pid),
    [4242, -1],
    'the holder and the OFD lock, not the waiter itself',
  );
  t.same(
    lockHolders({ major: 0xfd, minor: 1, inode: 99 }, ['FLOCK'], 1, LOCKS).map((h) => h.pid),
    [5000],
  );
  t.same(lockHolders({ major: 0xfd, minor: 1, inode: 98 }, ['FLOCK'], 1, LOCKS), [], 'another inode');
  t.same(devParts(0x2d), { major: 0, minor: 0x2d });
  t.same(devParts((259 << 8) | 3), { major: 259, minor: 3 });
});

t.test('cgroup mounts and a process cgroup dirs (v1 hybrid, v2)', async (t) => {
  const hybrid = parseCgroupMounts(
    'cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,nosuid,cpu,cpuacct 0 0\ncgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0\ncgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n',
  );
  t.equal(hybrid.v1.get('cpu'), '/sys/fs/cgroup/cpu,cpuacct');
  t.equal(hybrid.unified, '/sys/fs/cgroup/unified');
  const d = cgroupDirs(parseCgroups('4:memory:/m/x\n2:cpu,cpuacct:/c/y\n0::/u/z\n'), hybrid)!;
  t.equal(d.cpuDir, '/sys/fs/cgroup/cpu,cpuacct/c/y');
  t.equal(d.memDir, '/sys/fs/cgroup/memory/m/x');
  t.equal(d.unifiedDir, '/sys/fs/cgroup/unified/u/z');
  t.equal(d.path, '/c/y', 'shown by its cpu path');
  t.notOk(d.cpuV2);
  const root = cgroupDirs(parseCgroups('4:memory:/m/x\n2:cpu,cpuacct:/\n0::/\n'), hybrid)!;
  t.equal(root.unifiedDir, undefined, 'the unified root has no PSI of its own: the host');
  t.equal(root.path, '/m/x', 'a cgroup at the cpu root is shown by its memory path');
  const v2 = cgroupDirs(parseCgroups('0::/kubepods/pod1/c\n'), parseCgroupMounts('cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n'))!;
  t.ok(v2.cpuV2 && v2.memV2);
  t.equal(v2.cpuDir, '/sys/fs/cgroup/kubepods/pod1/c');
  t.equal(psiSomeTotal('some avg10=1.00 avg60=0.50 avg300=0.10 total=123456\nfull avg10=0 avg60=0 avg300=0 total=9\n'), 123456);
  t.equal(psiSomeTotal(undefined), undefined);
});

t.test('tense: an exited process in the past, a live one in the present', async (t) => {
  const loaded = loadRuleDir(defaultRulesDir());
  t.same(loaded.errors, []);
  const p = new Pipeline(loaded.ruleSet!);
  const now = 100e9;
  const mk = (pid: number) => {
    const n = p.graph.process(pid, 1e9);
    n.comm = 'sender';
    n.seen(now);
    for (let i = 0; i < 5; i++) n.observe(MI.tcpRetransmits, now - i * 1e9, 4);
    return n;
  };
  mk(41);
  const gone = mk(42);
  gone.state = 'exited';
  gone.exit = { code: 0, signal: 0, core: false, tNs: now };
  const live = explain(p.graph, p.matcher, 41, { nowNs: now });
  t.equal(live.scene, 'network_stall');
  t.match(live.summary, /^sender \(41\) is stalled on the network/);
  const past = explain(p.graph, p.matcher, 42, { nowNs: now });
  t.equal(past.scene, 'network_stall');
  t.match(past.summary, /^sender \(42\) was stalled on the network/);
});
