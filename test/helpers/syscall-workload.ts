// The syscall family's scripted workload (test/helpers/syscall-errors.c): failing
// opens of missing files, writes to a full small tmpfs, connects refused on a
// closed local port. The workload counts its own failures and prints them.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { waitForLine } from '../../src/faults/child-output';
import { run } from '../../src/faults/exec';
import { helperPath } from '../fixtures/cbuild';

export interface FullFs {
  /** a directory with no files (the missing opens point here) */
  dir: string;
  /** the mount point of a 64 KiB tmpfs */
  full: string;
  cleanup(): Promise<void>;
}

export async function smallTmpfs(): Promise<FullFs> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xctl-sc-'));
  const full = path.join(dir, 'full');
  fs.mkdirSync(full);
  await run('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', full]);
  return {
    dir,
    full,
    async cleanup() {
      await run('umount', [full]).catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A local TCP port nothing listens on (bound by the kernel, then closed). */
export function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Observed {
  pid: number;
  enoent: number;
  enospc: number;
  econnrefused: number;
  fd: number;
  other: number;
}

export interface WorkloadRun {
  child: ChildProcess;
  /** the workload's own counts, once it has done its work */
  observed: Promise<Observed>;
  /** resolves with the parent's exit code (the worker's status) */
  exited: Promise<number | null>;
  /** hold mode: the worker's pid once it is ready; then go() starts it and release() lets it exit */
  ready?: Promise<number>;
  go(): void;
  release(): void;
}

export async function runWorkload(o: {
  opens: number;
  writes: number;
  connects: number;
  fs: FullFs;
  port: number;
  code: number;
  hold?: boolean;
}): Promise<WorkloadRun> {
  const args = [o.opens, o.fs.dir, o.writes, path.join(o.fs.full, 'x'), o.connects, o.port, o.code].map(String);
  if (o.hold) args.push('hold');
  const child = spawn(await helperPath('syscall-errors'), args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const ready = o.hold ? waitForLine(child, /ready (\d+)/, 'syscall-errors ready').then((m) => Number(m[1])) : undefined;
  const observed = (async () => {
    if (ready) await ready;
    const m = await waitForLine(
      child,
      /pid (\d+) enoent (\d+) enospc (\d+) econnrefused (\d+) fd (-?\d+) other (\d+)/,
      'syscall-errors counts',
      30_000,
    );
    const [pid, enoent, enospc, econnrefused, fd, other] = m.slice(1).map(Number) as [number, number, number, number, number, number];
    return { pid, enoent, enospc, econnrefused, fd, other };
  })();
  return {
    child,
    observed,
    exited,
    ready,
    go: () => child.stdin?.write('go\n'),
    release: () => child.stdin?.end('bye\n'),
  };
}
