/**
 * Best-effort readers for /proc files. A process can exit between any two
 * reads, so every reader returns undefined instead of throwing; callers keep
 * whatever they already read.
 */
import * as fs from 'node:fs';

/** Whole file as latin1 (procfs is ASCII, and latin1 never fails to decode), or undefined. */
export function readText(path: string): string | undefined {
  try {
    return fs.readFileSync(path, 'latin1');
  } catch {
    return undefined;
  }
}

/** Symlink target (e.g. "pipe:[1234]", "/usr/bin/sleep"), or undefined. */
export function readLink(path: string): string | undefined {
  try {
    return fs.readlinkSync(path);
  } catch {
    return undefined;
  }
}

/** Directory entries, or [] when it vanished or is not readable (kernel threads have no fd table). */
export function readDir(path: string): string[] {
  try {
    return fs.readdirSync(path);
  } catch {
    return [];
  }
}

/**
 * Small-file reader into a reused buffer: open+read+close, no fstat and no
 * per-call Buffer. For hot loops over every /proc/<pid>/stat (one per process
 * per sample). Files longer than the buffer are truncated, which is fine for
 * the stat lines it is meant for (~350 bytes; the buffer is 4 KiB).
 */
export class SmallFileReader {
  private readonly buf: Buffer;

  constructor(size = 4096) {
    this.buf = Buffer.allocUnsafe(size);
  }

  read(path: string): string | undefined {
    let fd: number;
    try {
      fd = fs.openSync(path, 'r');
    } catch {
      return undefined;
    }
    try {
      const n = fs.readSync(fd, this.buf, 0, this.buf.length, null);
      return this.buf.toString('latin1', 0, n);
    } catch {
      return undefined; // ESRCH: exited between open and read
    } finally {
      fs.closeSync(fd);
    }
  }
}

/** Numeric /proc entries (pids), in directory order. */
export function listPids(procRoot = '/proc'): number[] {
  const out: number[] = [];
  for (const name of readDir(procRoot)) {
    const c = name.charCodeAt(0);
    if (c >= 48 && c <= 57) out.push(Number(name));
  }
  return out;
}
