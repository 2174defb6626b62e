/** Waiting on what a workload process prints (fault scenarios, demo, tests). */
import type { ChildProcess } from 'node:child_process';

/**
 * Resolves with the first match of `re` in the child's stdout; rejects, naming
 * `what` and the output so far, if the child exits first or `timeoutMs` passes.
 * Keeps draining stdout afterwards, so a chatty child never blocks on a full pipe.
 */
export function waitForLine(child: ChildProcess, re: RegExp, what: string, timeoutMs = 15_000): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let settled = false;
    const done = (fn: () => void) => {
      settled = true;
      clearTimeout(timer);
      child.off('exit', onExit);
      fn();
    };
    const onData = (d: Buffer) => {
      if (settled) return; // still reading, no longer matching
      buf += d.toString();
      const m = re.exec(buf);
      if (m) done(() => resolve(m));
    };
    const onExit = (code: number | null) => done(() => reject(new Error(`${what} exited (${code}) before printing ${re}; output: ${buf}`)));
    const timer = setTimeout(
      () => done(() => reject(new Error(`${what}: no ${re} within ${timeoutMs / 1000} s; output: ${buf}`))),
      timeoutMs,
    );
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
}
