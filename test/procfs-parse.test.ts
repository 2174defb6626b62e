// /proc text formats, from literal strings: the quirks live here, not in the
// live tests. Plus the syscall tables checked against the kernel uapi headers.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { splitStat } from '../src/procfs/process';
import {
  classifyFdTarget,
  fdinfoMode,
  hasHandler,
  parseCgroups,
  parseCmdline,
  parseCpuList,
  parseSigMask,
  parseStatus,
  parseSyscall,
  parseWchan,
  stateName,
} from '../src/procfs/parse';
import { FD_FIRST_ARG, READS_FROM_FD, syscallName, syscallNumber, syscallTable } from '../src/procfs/syscalls';

t.test('stat: comm with ") " and spaces splits at the last paren', async (t) => {
  const s = splitStat('42 (a) b (c) S 1 42 42 0 -1 4194304 0 0 0 0 7 3 0 0 20 0 1 0 12345 0 0')!;
  t.equal(s.comm, 'a) b (c');
  t.equal(s.fields[0], 'S');
  t.equal(s.fields[1], '1');
  t.equal(s.fields[11], '7', 'utime');
  t.equal(s.fields[12], '3', 'stime');
  t.equal(s.fields[19], '12345', 'starttime');
  t.equal(splitStat('garbage'), null);
});

t.test('state letters', async (t) => {
  const m = Object.fromEntries(['R', 'S', 'D', 'T', 't', 'Z', 'I', 'X', undefined].map((l) => [String(l), stateName(l)]));
  t.same(m, {
    R: 'running',
    S: 'sleeping',
    D: 'blocked',
    T: 'stopped',
    t: 'traced',
    Z: 'zombie',
    I: 'idle',
    X: 'unknown',
    undefined: 'unknown',
  });
});

t.test('/proc/<pid>/syscall', async (t) => {
  t.equal(parseSyscall('running\n'), 'running');
  t.equal(parseSyscall(''), undefined);
  t.equal(parseSyscall(undefined), undefined);
  t.same(parseSyscall('-1 0x7ffc0 0x401000\n', 'x64'), { nr: -1, name: 'none', args: [], sp: 0x7ffc0n, pc: 0x401000n });
  const r = parseSyscall('0 0x3 0x7ffd1000 0x100 0x0 0x0 0x64 0x7ffd0ff8 0x7f00aaa\n', 'x64');
  t.same(r, { nr: 0, name: 'read', args: [3n, 0x7ffd1000n, 0x100n, 0n, 0n, 0x64n], sp: 0x7ffd0ff8n, pc: 0x7f00aaan });
  t.equal((parseSyscall('63 0x3 0x0 0x0 0x0 0x0 0x0 0x0 0x0', 'arm64') as { name: string }).name, 'read', 'arm64 read is 63');
  t.equal((parseSyscall('999 0x0', 'x64') as { name: string }).name, 'syscall_999');
});

t.test('wchan, cmdline, cgroups, status, masks', async (t) => {
  t.equal(parseWchan('0'), undefined);
  t.equal(parseWchan(''), undefined);
  t.equal(parseWchan('anon_pipe_read'), 'anon_pipe_read');
  t.same(parseCmdline('sleep\x005\x00'), ['sleep', '5']);
  t.same(parseCmdline('nginx: worker process'), ['nginx: worker process'], 'rewritten argv without NULs');
  t.same(parseCmdline(''), []);
  t.same(parseCgroups('12:cpu,cpuacct:/a/b\n1:name=systemd:/user.slice\n0::/x:y\n'), [
    { hierarchy: 12, controllers: ['cpu', 'cpuacct'], path: '/a/b' },
    { hierarchy: 1, controllers: ['name=systemd'], path: '/user.slice' },
    { hierarchy: 0, controllers: [], path: '/x:y' },
  ]);
  const st = parseStatus('Name:\tsleep\nThreads:\t1\nSigCgt:\t0000000000000200\nCpus_allowed_list:\t0-3,8\n');
  t.equal(st.get('Threads'), '1');
  t.equal(st.get('Cpus_allowed_list'), '0-3,8');
  const mask = parseSigMask(st.get('SigCgt'))!;
  t.equal(mask, 0x200n);
  t.equal(hasHandler(mask, 10), true);
  t.equal(hasHandler(mask, 9), false);
  t.equal(hasHandler({ sigCaught: 1n << 63n }, 64), true, 'highest RT signal');
  t.equal(hasHandler(undefined, 10), false);
  t.equal(parseSigMask('zz'), undefined);
  t.same(parseCpuList('0-3,8,10-11\n'), [0, 1, 2, 3, 8, 10, 11]);
  t.same(parseCpuList(''), []);
});

t.test('fd targets and fdinfo modes', async (t) => {
  t.same(classifyFdTarget('pipe:[1234]'), { kind: 'pipe', inode: 1234 });
  t.same(classifyFdTarget('socket:[99]'), { kind: 'socket', inode: 99 });
  t.same(classifyFdTarget('anon_inode:[eventpoll]'), { kind: 'anon_inode' });
  t.same(classifyFdTarget('/dev/null'), { kind: 'file' });
  t.same(classifyFdTarget('net:[4026531840]'), { kind: 'other' });
  t.equal(fdinfoMode('pos:\t0\nflags:\t0100000\nmnt_id:\t15\n'), 'r');
  t.equal(fdinfoMode('pos:\t0\nflags:\t02000001\n'), 'w');
  t.equal(fdinfoMode('pos:\t0\nflags:\t02\n'), 'rw');
  t.equal(fdinfoMode(''), undefined);
});

t.test('syscall tables', async (t) => {
  t.equal(syscallName(0, 'x64'), 'read');
  t.equal(syscallName(202, 'x64'), 'futex');
  t.equal(syscallName(98, 'arm64'), 'futex');
  t.equal(syscallName(1, 'riscv64'), 'syscall_1', 'unknown arch: numbered');
  t.equal(syscallNumber('epoll_pwait2', 'x64'), 441);
  const wanted = `read write readv writev pread64 pwrite64 recvfrom recvmsg sendto sendmsg accept accept4 connect poll ppoll select
    pselect6 epoll_wait epoll_pwait epoll_pwait2 futex nanosleep clock_nanosleep wait4 waitid pause rt_sigsuspend rt_sigtimedwait
    flock fcntl fsync fdatasync sync io_getevents io_uring_enter msgrcv semop semtimedop splice sendfile openat ioctl`.split(/\s+/);
  // aarch64 has no poll/select/pause/epoll_wait syscalls at all (only ppoll/pselect6/epoll_pwait)
  const notOnArm = new Set(['poll', 'select', 'pause', 'epoll_wait']);
  for (const arch of ['x64', 'arm64']) {
    const missing = wanted.filter((n) => syscallNumber(n, arch) === undefined && !(arch === 'arm64' && notOnArm.has(n)));
    t.same(missing, [], `${arch}: every blocking syscall named`);
  }
  for (const n of READS_FROM_FD) t.ok(FD_FIRST_ARG.has(n), `${n} is an fd-first call`);

  // Cross-check every number against the uapi headers when installed.
  const headers: [string, string][] = [
    ['x64', '/usr/include/x86_64-linux-gnu/asm/unistd_64.h'],
    ['x64', '/usr/include/asm/unistd_64.h'],
    ['arm64', '/usr/include/asm-generic/unistd.h'],
  ];
  for (const [arch, file] of headers) {
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    const nr = new Map<string, number>();
    const nr3264 = new Map<string, number>();
    for (const line of text.split('\n')) {
      let m = /^#define __NR(3264)?_(\w+)\s+(\d+)\s*$/.exec(line);
      if (m) (m[1] ? nr3264 : nr).set(m[2]!, Number(m[3]));
      // asm-generic 64-bit names that alias the __NR3264_ numbers (fcntl, sendfile, newfstatat...)
      m = /^#define __NR_(\w+)\s+__NR3264_(\w+)\s*$/.exec(line);
      if (m && nr3264.has(m[2]!) && !nr.has(m[1]!)) nr.set(m[1]!, nr3264.get(m[2]!)!);
    }
    const wrong = [...syscallTable(arch)]
      .filter(([n, name]) => nr.get(name) !== n)
      .map(([n, name]) => `${name}=${n} (header: ${nr.get(name)})`);
    t.same(wrong, [], `${arch} table agrees with ${file} (${syscallTable(arch).size} entries)`);
  }
});
