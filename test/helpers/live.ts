// Runs the real probes for a test and keeps every decoded event, so tests can
// wait for what a real fault should produce and assert on values.
import { LiveSource, type LiveOptions } from '../../src/sources/live';
import { toEvent, type XEvent } from '../../src/kinds/format';

export interface Capture {
  source: LiveSource;
  events: XEvent[];
  /** Resolves with matching events once `pred` holds for at least `min` of them. */
  waitFor<T extends XEvent = XEvent>(
    pred: (e: XEvent) => boolean,
    opts?: { timeoutMs?: number; min?: number; what?: string },
  ): Promise<T[]>;
  matching<T extends XEvent = XEvent>(pred: (e: XEvent) => boolean): T[];
  stop(): void;
}

export function capture(opts: LiveOptions = {}): Capture {
  const source = new LiveSource({ resolveSocketOwners: true, ...opts });
  const events: XEvent[] = [];
  source.start((batch) => {
    for (let i = 0; i < batch.count; i++) events.push(toEvent(batch, i, source.clock));
  });
  const matching = <T extends XEvent>(pred: (e: XEvent) => boolean) => events.filter(pred) as T[];
  return {
    source,
    events,
    matching,
    async waitFor<T extends XEvent>(pred: (e: XEvent) => boolean, o: { timeoutMs?: number; min?: number; what?: string } = {}) {
      const deadline = Date.now() + (o.timeoutMs ?? 10_000);
      const min = o.min ?? 1;
      for (;;) {
        source.drain();
        const found = matching<T>(pred);
        if (found.length >= min) return found;
        if (Date.now() > deadline) {
          throw new Error(`timed out waiting for ${o.what ?? 'events'}: saw ${found.length} of ${min} (total events ${events.length})`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    stop() {
      source.stop();
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
