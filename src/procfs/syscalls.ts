/**
 * Syscall number -> name for the two architectures we run on, so a reading of
 * /proc/<pid>/syscall ("0 0x3 ...") can be explained as "read(fd 3)". Not the
 * full tables: the calls a process blocks or spends time in, plus the common
 * ones seen around them. Numbers come from the kernel's uapi headers
 * (asm/unistd_64.h and asm-generic/unistd.h); test/procfs-syscalls.test.ts
 * cross-checks them against the headers when those are installed.
 */

export type SyscallArch = 'x64' | 'arm64';

// biome-ignore format: a table, laid out by hand
const X86_64: Readonly<Record<number, string>> = {
  0: 'read', 1: 'write', 2: 'open', 3: 'close', 4: 'stat', 5: 'fstat',
  6: 'lstat', 7: 'poll', 8: 'lseek', 9: 'mmap', 10: 'mprotect', 11: 'munmap',
  12: 'brk', 13: 'rt_sigaction', 14: 'rt_sigprocmask', 15: 'rt_sigreturn', 16: 'ioctl', 17: 'pread64',
  18: 'pwrite64', 19: 'readv', 20: 'writev', 21: 'access', 22: 'pipe', 23: 'select',
  24: 'sched_yield', 25: 'mremap', 26: 'msync', 28: 'madvise', 32: 'dup', 33: 'dup2',
  34: 'pause', 35: 'nanosleep', 37: 'alarm', 39: 'getpid', 40: 'sendfile', 41: 'socket',
  42: 'connect', 43: 'accept', 44: 'sendto', 45: 'recvfrom', 46: 'sendmsg', 47: 'recvmsg',
  48: 'shutdown', 49: 'bind', 50: 'listen', 53: 'socketpair', 54: 'setsockopt', 55: 'getsockopt',
  56: 'clone', 57: 'fork', 58: 'vfork', 59: 'execve', 60: 'exit', 61: 'wait4',
  62: 'kill', 64: 'semget', 65: 'semop', 66: 'semctl', 69: 'msgsnd', 70: 'msgrcv',
  72: 'fcntl', 73: 'flock', 74: 'fsync', 75: 'fdatasync', 76: 'truncate', 77: 'ftruncate',
  80: 'chdir', 82: 'rename', 83: 'mkdir', 84: 'rmdir', 87: 'unlink', 89: 'readlink',
  95: 'umask', 101: 'ptrace', 110: 'getppid', 127: 'rt_sigpending', 128: 'rt_sigtimedwait', 130: 'rt_sigsuspend',
  131: 'sigaltstack', 133: 'mknod', 137: 'statfs', 138: 'fstatfs', 157: 'prctl', 158: 'arch_prctl',
  162: 'sync', 165: 'mount', 166: 'umount2', 186: 'gettid', 202: 'futex', 203: 'sched_setaffinity',
  204: 'sched_getaffinity', 206: 'io_setup', 207: 'io_destroy', 208: 'io_getevents', 209: 'io_submit', 210: 'io_cancel',
  213: 'epoll_create', 217: 'getdents64', 218: 'set_tid_address', 219: 'restart_syscall', 220: 'semtimedop', 228: 'clock_gettime',
  230: 'clock_nanosleep', 231: 'exit_group', 232: 'epoll_wait', 233: 'epoll_ctl', 234: 'tgkill', 242: 'mq_timedsend',
  243: 'mq_timedreceive', 247: 'waitid', 254: 'inotify_add_watch', 257: 'openat', 258: 'mkdirat', 262: 'newfstatat',
  263: 'unlinkat', 264: 'renameat', 267: 'readlinkat', 269: 'faccessat', 270: 'pselect6', 271: 'ppoll',
  273: 'set_robust_list', 275: 'splice', 276: 'tee', 277: 'sync_file_range', 278: 'vmsplice', 281: 'epoll_pwait',
  283: 'timerfd_create', 285: 'fallocate', 286: 'timerfd_settime', 288: 'accept4', 289: 'signalfd4', 290: 'eventfd2',
  291: 'epoll_create1', 292: 'dup3', 293: 'pipe2', 295: 'preadv', 296: 'pwritev', 298: 'perf_event_open',
  299: 'recvmmsg', 302: 'prlimit64', 306: 'syncfs', 307: 'sendmmsg', 308: 'setns', 309: 'getcpu',
  310: 'process_vm_readv', 313: 'finit_module', 316: 'renameat2', 318: 'getrandom', 319: 'memfd_create', 321: 'bpf',
  322: 'execveat', 323: 'userfaultfd', 324: 'membarrier', 326: 'copy_file_range', 327: 'preadv2', 328: 'pwritev2',
  332: 'statx', 333: 'io_pgetevents', 334: 'rseq', 424: 'pidfd_send_signal', 425: 'io_uring_setup', 426: 'io_uring_enter',
  427: 'io_uring_register', 434: 'pidfd_open', 435: 'clone3', 436: 'close_range', 437: 'openat2', 439: 'faccessat2',
  441: 'epoll_pwait2', 449: 'futex_waitv',
};

// aarch64 uses the asm-generic table: no open/poll/select/pipe/epoll_wait, only their *at/p* forms.
// biome-ignore format: a table, laid out by hand
const AARCH64: Readonly<Record<number, string>> = {
  0: 'io_setup', 1: 'io_destroy', 2: 'io_submit', 3: 'io_cancel', 4: 'io_getevents', 19: 'eventfd2',
  20: 'epoll_create1', 21: 'epoll_ctl', 22: 'epoll_pwait', 23: 'dup', 24: 'dup3', 25: 'fcntl',
  27: 'inotify_add_watch', 29: 'ioctl', 32: 'flock', 34: 'mkdirat', 35: 'unlinkat', 38: 'renameat',
  39: 'umount2', 40: 'mount', 43: 'statfs', 44: 'fstatfs', 45: 'truncate', 46: 'ftruncate',
  47: 'fallocate', 48: 'faccessat', 49: 'chdir', 56: 'openat', 57: 'close', 59: 'pipe2',
  61: 'getdents64', 62: 'lseek', 63: 'read', 64: 'write', 65: 'readv', 66: 'writev',
  67: 'pread64', 68: 'pwrite64', 69: 'preadv', 70: 'pwritev', 71: 'sendfile', 72: 'pselect6',
  73: 'ppoll', 74: 'signalfd4', 75: 'vmsplice', 76: 'splice', 77: 'tee', 78: 'readlinkat',
  79: 'newfstatat', 80: 'fstat', 81: 'sync', 82: 'fsync', 83: 'fdatasync', 84: 'sync_file_range',
  85: 'timerfd_create', 86: 'timerfd_settime', 93: 'exit', 94: 'exit_group', 95: 'waitid', 96: 'set_tid_address',
  98: 'futex', 99: 'set_robust_list', 101: 'nanosleep', 113: 'clock_gettime', 115: 'clock_nanosleep', 117: 'ptrace',
  122: 'sched_setaffinity', 123: 'sched_getaffinity', 124: 'sched_yield', 128: 'restart_syscall', 129: 'kill', 131: 'tgkill',
  132: 'sigaltstack', 133: 'rt_sigsuspend', 134: 'rt_sigaction', 135: 'rt_sigprocmask', 136: 'rt_sigpending', 137: 'rt_sigtimedwait',
  139: 'rt_sigreturn', 166: 'umask', 167: 'prctl', 168: 'getcpu', 172: 'getpid', 173: 'getppid',
  178: 'gettid', 182: 'mq_timedsend', 183: 'mq_timedreceive', 188: 'msgrcv', 189: 'msgsnd', 190: 'semget',
  191: 'semctl', 192: 'semtimedop', 193: 'semop', 198: 'socket', 199: 'socketpair', 200: 'bind',
  201: 'listen', 202: 'accept', 203: 'connect', 206: 'sendto', 207: 'recvfrom', 208: 'setsockopt',
  209: 'getsockopt', 210: 'shutdown', 211: 'sendmsg', 212: 'recvmsg', 214: 'brk', 215: 'munmap',
  216: 'mremap', 220: 'clone', 221: 'execve', 222: 'mmap', 226: 'mprotect', 227: 'msync',
  233: 'madvise', 241: 'perf_event_open', 242: 'accept4', 243: 'recvmmsg', 260: 'wait4', 261: 'prlimit64',
  267: 'syncfs', 268: 'setns', 269: 'sendmmsg', 270: 'process_vm_readv', 273: 'finit_module', 276: 'renameat2',
  278: 'getrandom', 279: 'memfd_create', 280: 'bpf', 281: 'execveat', 282: 'userfaultfd', 283: 'membarrier',
  285: 'copy_file_range', 286: 'preadv2', 287: 'pwritev2', 291: 'statx', 292: 'io_pgetevents', 293: 'rseq',
  424: 'pidfd_send_signal', 425: 'io_uring_setup', 426: 'io_uring_enter', 427: 'io_uring_register', 434: 'pidfd_open', 435: 'clone3',
  436: 'close_range', 437: 'openat2', 439: 'faccessat2', 441: 'epoll_pwait2', 449: 'futex_waitv',
};

const TABLES: Record<SyscallArch, Readonly<Record<number, string>>> = { x64: X86_64, arm64: AARCH64 };

function tableFor(arch: string): Readonly<Record<number, string>> | undefined {
  return arch === 'x64' || arch === 'arm64' ? TABLES[arch] : undefined;
}

/** The syscall's name, or `syscall_<nr>` when it is not in our table (or the arch is unknown). */
export function syscallName(nr: number, arch: string = process.arch): string {
  return tableFor(arch)?.[nr] ?? `syscall_${nr}`;
}

/** Reverse lookup, mainly for tests: the number of `name` on `arch`, or undefined. */
export function syscallNumber(name: string, arch: string = process.arch): number | undefined {
  const table = tableFor(arch);
  if (!table) return undefined;
  for (const [nr, n] of Object.entries(table)) if (n === name) return Number(nr);
  return undefined;
}

/** All (number, name) pairs known for `arch`, for cross-checks. */
export function syscallTable(arch: string = process.arch): ReadonlyMap<number, string> {
  return new Map(Object.entries(tableFor(arch) ?? {}).map(([nr, n]) => [Number(nr), n] as const));
}

/**
 * Syscalls whose FIRST argument is the file descriptor they wait on. When a
 * thread sleeps in one of these, /proc/<pid>/fd/<arg0> names what it waits
 * for (a pipe, a socket, a file). poll/select take an array/nfds instead, and
 * are left out on purpose.
 */
export const FD_FIRST_ARG = new Set([
  'read',
  'write',
  'readv',
  'writev',
  'pread64',
  'pwrite64',
  'preadv',
  'pwritev',
  'preadv2',
  'pwritev2',
  'recvfrom',
  'recvmsg',
  'recvmmsg',
  'sendto',
  'sendmsg',
  'sendmmsg',
  'accept',
  'accept4',
  'connect',
  'epoll_wait',
  'epoll_pwait',
  'epoll_pwait2',
  'flock',
  'fcntl',
  'fsync',
  'fdatasync',
  'sync_file_range',
  'ioctl',
  'sendfile',
  'splice',
  'tee',
  'vmsplice',
  'io_uring_enter',
  'getdents64',
  'fallocate',
  'ftruncate',
]);

/** FD_FIRST_ARG calls that consume data from the fd (so a pipe fd there is the read end). */
export const READS_FROM_FD = new Set(['read', 'readv', 'pread64', 'preadv', 'preadv2', 'recvfrom', 'recvmsg', 'recvmmsg', 'splice', 'tee']);
