// Set-up shared by the probe, why and fix scenario tests.
import type { Test } from 'tap';
import { spawn } from 'node:child_process';
import { waitForLine } from '../../src/faults/child-output';
import { helperPath } from '../fixtures/cbuild';

/** Kills `pid` when the test ends; it may be gone already. */
export function killAtEnd(t: Test, pid: number): void {
  t.teardown(() => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  });
}

/** The pipe-pair helper for `seconds`: `reader` blocks in read() on `writer`; both are killed when the test ends. */
export async function pipePair(t: Test, seconds: number): Promise<{ reader: number; writer: number }> {
  const pair = spawn(await helperPath('pipe-pair'), [String(seconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => void pair.kill('SIGKILL'));
  const m = await waitForLine(pair, /reader (\d+) writer (\d+)/, 'pipe-pair');
  const [reader, writer] = [Number(m[1]), Number(m[2])];
  killAtEnd(t, writer);
  return { reader, writer };
}
