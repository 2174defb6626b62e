/**
 * Pure parsers for the text of /proc files. No I/O here, so every format quirk
 * (comm with ") " in it, "running" in /proc/<pid>/syscall, cgroup v2's "0::/")
 * is testable with literal strings.
 */
import { syscallName } from './syscalls';

export type ProcStateName = 'running' | 'sleeping' | 'blocked' | 'stopped' | 'traced' | 'zombie' | 'idle' | 'unknown';

/** The /proc stat state letter in words. D ("disk sleep") is any uninterruptible wait, hence 'blocked'. */
export function stateName(letter: string | undefined): ProcStateName {
  switch (letter) {
    case 'R':
      return 'running';
    case 'S':
      return 'sleeping';
    case 'D':
      return 'blocked';
    case 'T':
      return 'stopped';
    case 't':
      return 'traced';
    case 'Z':
      return 'zombie';
    case 'I': // idle kernel thread
    case 'P': // parked kernel thread
      return 'idle';
    default:
      return 'unknown';
  }
}

/** "Key:\tvalue" lines of /proc/<pid>/status into a map (values trimmed). */
export function parseStatus(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) out.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return out;
}

/** Signal masks (SigCgt, SigBlk, ...) are 16 hex digits, bit (sig-1) set for signal sig. */
export function parseSigMask(hex: string | undefined): bigint | undefined {
  if (!hex || !/^[0-9a-fA-F]+$/.test(hex)) return undefined;
  return BigInt(`0x${hex}`);
}

/**
 * True when the process installed a handler for `sig` (its SigCgt bit is set).
 * Takes the mask or anything carrying `sigCaught` (a LiveProcessState).
 * Unknown mask (process gone) => false.
 */
export function hasHandler(maskOrProc: bigint | { sigCaught?: bigint } | undefined, sig: number): boolean {
  if (!Number.isInteger(sig) || sig < 1 || sig > 64) throw new RangeError(`hasHandler: signal ${sig} out of range 1..64`);
  const mask = typeof maskOrProc === 'bigint' ? maskOrProc : maskOrProc?.sigCaught;
  return mask !== undefined && ((mask >> BigInt(sig - 1)) & 1n) === 1n;
}

export interface SyscallState {
  /** -1: blocked but not inside a syscall (e.g. a page fault); name is then 'none'. */
  nr: number;
  name: string;
  /** the six argument registers, raw */
  args: bigint[];
  sp?: bigint;
  pc?: bigint;
}

/**
 * /proc/<pid>/syscall: "running" while on a CPU, "-1 sp pc" when blocked
 * outside a syscall, else "nr a0 a1 a2 a3 a4 a5 sp pc" (args in hex).
 */
export function parseSyscall(text: string | undefined, arch: string = process.arch): SyscallState | 'running' | undefined {
  const t = text?.trim();
  if (!t) return undefined;
  if (t === 'running') return 'running';
  const parts = t.split(/\s+/);
  const nr = Number(parts[0]);
  if (!Number.isInteger(nr)) return undefined;
  const hex = (s: string | undefined): bigint | undefined => {
    if (s === undefined) return undefined;
    try {
      return BigInt(s);
    } catch {
      return undefined;
    }
  };
  if (nr < 0) return { nr, name: 'none', args: [], sp: hex(parts[1]), pc: hex(parts[2]) };
  const args: bigint[] = [];
  for (let i = 1; i <= 6; i++) args.push(hex(parts[i]) ?? 0n);
  return { nr, name: syscallName(nr, arch), args, sp: hex(parts[7]), pc: hex(parts[8]) };
}

/** /proc/<pid>/wchan: the kernel function the task sleeps in; "0" or "" when running or unknown. */
export function parseWchan(text: string | undefined): string | undefined {
  const t = text?.trim();
  return !t || t === '0' ? undefined : t;
}

export interface CgroupEntry {
  /** hierarchy id; 0 is the cgroup v2 unified hierarchy */
  hierarchy: number;
  /** v1 controllers ("cpu", "cpuacct", "name=systemd"); [] for v2 */
  controllers: string[];
  path: string;
}

/** /proc/<pid>/cgroup lines "id:controllers:path" (the path may itself contain ':'). */
export function parseCgroups(text: string | undefined): CgroupEntry[] {
  const out: CgroupEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const a = line.indexOf(':');
    const b = a < 0 ? -1 : line.indexOf(':', a + 1);
    if (b < 0) continue;
    out.push({
      hierarchy: Number(line.slice(0, a)),
      controllers: line
        .slice(a + 1, b)
        .split(',')
        .filter(Boolean),
      path: line.slice(b + 1),
    });
  }
  return out;
}

/** /proc/<pid>/cmdline: NUL-separated argv; empty for kernel threads and zombies. */
export function parseCmdline(text: string | undefined): string[] {
  if (!text) return [];
  const parts = text.split('\0');
  if (parts[parts.length - 1] === '') parts.pop();
  return parts;
}

export type FdKind = 'pipe' | 'socket' | 'file' | 'anon_inode' | 'other';

/** What a /proc/<pid>/fd/<n> link points at: "pipe:[N]", "socket:[N]", "anon_inode:[eventpoll]", "/path". */
export function classifyFdTarget(target: string): { kind: FdKind; inode?: number } {
  const m = /^(pipe|socket):\[(\d+)\]$/.exec(target);
  if (m) return { kind: m[1] as 'pipe' | 'socket', inode: Number(m[2]) };
  if (target.startsWith('anon_inode:')) return { kind: 'anon_inode' };
  if (target.startsWith('/')) return { kind: 'file' };
  return { kind: 'other' };
}

export type FdMode = 'r' | 'w' | 'rw';

/** Access mode from /proc/<pid>/fdinfo/<fd> "flags:\t0100002" (octal; O_ACCMODE = 3: 0 r, 1 w, 2 rw). */
export function fdinfoMode(text: string | undefined): FdMode | undefined {
  const m = text ? /^flags:\s*([0-7]+)/m.exec(text) : null;
  if (!m) return undefined;
  const acc = parseInt(m[1]!, 8) & 3;
  return acc === 0 ? 'r' : acc === 1 ? 'w' : 'rw';
}

/** A kernel CPU list ("0-3,8,10-11", as in Cpus_allowed_list) into CPU numbers. Malformed parts are skipped. */
export function parseCpuList(text: string | undefined): number[] {
  const out: number[] = [];
  for (const part of (text ?? '').trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) continue;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    for (let c = lo; c <= hi && c - lo < 65536; c++) out.push(c);
  }
  return out;
}
