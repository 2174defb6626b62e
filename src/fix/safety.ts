/**
 * What xctl fix never touches, and the pid-reuse guard: a target is a pid AND
 * its kernel start time; every step re-reads /proc/<pid>/stat right before it
 * runs and refuses when the start time differs (the pid now names another
 * process) or the process is gone.
 */
import * as fs from 'node:fs';
import { readProcIdentity, sameStart } from '../procfs/process';

const PF_KTHREAD = 0x00200000;

export interface ProcessTarget {
  pid: number;
  start_ns: number;
}

/** Why `pid` may never be acted on, or undefined. */
export function protectedReason(pid: number): string | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return `pid ${pid} is not a process id`;
  if (pid === 1) return 'pid 1 is init: xctl fix never acts on it';
  if (pid === process.pid) return `pid ${pid} is the xctl agent itself`;
  if (pid === process.ppid) return `pid ${pid} is the xctl agent's parent (its supervisor)`;
  if (isKernelThread(pid)) return `pid ${pid} is a kernel thread`;
  return undefined;
}

export function isKernelThread(pid: number): boolean {
  if (pid === 2) return true;
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return false;
  }
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const ppid = Number(f[1]);
  const flags = Number(f[6]); // field 9
  return ppid === 2 || (Number.isFinite(flags) && (flags & PF_KTHREAD) !== 0);
}

export type IdentityCheck =
  | { ok: true; comm: string; state: string }
  | { ok: false; code: 'gone' | 'reused' | 'protected'; message: string };

/** Re-check right before acting: still the same process (pid + start time), and not protected. */
export function checkIdentity(t: ProcessTarget): IdentityCheck {
  const prot = protectedReason(t.pid);
  if (prot) return { ok: false, code: 'protected', message: `refused: ${prot}` };
  const id = readProcIdentity(t.pid);
  if (!id) return { ok: false, code: 'gone', message: `refused: process ${t.pid} no longer exists` };
  if (!sameStart(BigInt(Math.round(t.start_ns)), id.startNs)) {
    return {
      ok: false,
      code: 'reused',
      message: `refused: pid ${t.pid} was reused: the plan's process started at ${(t.start_ns / 1e9).toFixed(2)} s after boot, pid ${t.pid} is now ${id.comm} started at ${(Number(id.startNs) / 1e9).toFixed(2)} s`,
    };
  }
  return { ok: true, comm: id.comm, state: id.state };
}
