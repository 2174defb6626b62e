/**
 * /proc/<pid>/environ, read once per exec off the hot path. Bounded: at most
 * ENVIRON_MAX_BYTES are read (a process can have megabytes of environment);
 * a larger one, an unreadable one (EACCES, a kernel thread) or a process that
 * exited answer a reason instead of a map. Never throws.
 *
 * Only the variables the caller asks for are kept, so a cached identity costs
 * a handful of short strings, not a copy of every process's environment.
 */
import * as fs from 'node:fs';

/** The most bytes of /proc/<pid>/environ read (256 KiB); larger => 'too-large'. */
export const ENVIRON_MAX_BYTES = 256 * 1024;

export type EnvironUnknown = 'unreadable' | 'too-large' | 'gone';

export type EnvironResult = { env: Map<string, string> } | { unknown: EnvironUnknown; detail: string };

/** NUL-separated KEY=VALUE entries; `keys` given: only those are kept. A trailing partial entry is ignored when `truncated`. */
export function parseEnviron(text: string, keys?: ReadonlySet<string>): Map<string, string> {
  const out = new Map<string, string>();
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\0', start);
    if (end < 0) end = text.length;
    const eq = text.indexOf('=', start);
    if (eq > start && eq < end) {
      const k = text.slice(start, eq);
      if (!keys || keys.has(k)) out.set(k, text.slice(eq + 1, end));
    }
    start = end + 1;
  }
  return out;
}

let shared: Buffer | undefined;

/**
 * Reads /proc/<pid>/environ (or `file`) through one reused buffer of
 * maxBytes+1: reading more than maxBytes means the environment is too large
 * to keep reading, and the result is 'too-large' (never a partial map: a
 * partial map could miss RANK and say "no rank" where the truth is unknown).
 */
export function readEnviron(
  pid: number,
  opts: { keys?: ReadonlySet<string>; maxBytes?: number; procRoot?: string; file?: string } = {},
): EnvironResult {
  const max = opts.maxBytes ?? ENVIRON_MAX_BYTES;
  const file = opts.file ?? `${opts.procRoot ?? '/proc'}/${pid}/environ`;
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    return failure(e, file, opts.file ? undefined : `${opts.procRoot ?? '/proc'}/${pid}`);
  }
  try {
    const buf = max === ENVIRON_MAX_BYTES ? (shared ??= Buffer.allocUnsafe(max + 1)) : Buffer.allocUnsafe(max + 1);
    let n = 0;
    for (;;) {
      const got = fs.readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      if (n > max) return { unknown: 'too-large', detail: `${file}: more than ${max} bytes` };
    }
    return { env: parseEnviron(buf.toString('latin1', 0, n), opts.keys) };
  } catch (e) {
    return failure(e, file, opts.file ? undefined : `${opts.procRoot ?? '/proc'}/${pid}`);
  } finally {
    fs.closeSync(fd);
  }
}

/** ENOENT: exited. ESRCH: no address space, which is a kernel thread or a zombie while /proc/<pid> still exists. */
function failure(e: unknown, file: string, procDir: string | undefined): { unknown: EnvironUnknown; detail: string } {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ESRCH' && procDir && fs.existsSync(procDir))
    return { unknown: 'unreadable', detail: `${file}: no address space (a kernel thread or a zombie)` };
  if (code === 'ENOENT' || code === 'ESRCH') return { unknown: 'gone', detail: `${file}: the process exited` };
  return { unknown: 'unreadable', detail: `${file}: ${code ?? (e as Error).message}` };
}
