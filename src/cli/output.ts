/**
 * Line output that survives `xctl events | head`: buffered per batch (one
 * write per batch, not per event) and quiet on EPIPE.
 */
export class LineWriter {
  private lines: string[] = [];
  closed = false;

  constructor(private readonly stream: NodeJS.WriteStream = process.stdout) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') this.closed = true;
      else throw e;
    });
  }

  push(line: string): void {
    this.lines.push(line);
  }

  flush(): void {
    if (this.lines.length === 0 || this.closed) {
      this.lines = [];
      return;
    }
    this.stream.write(`${this.lines.join('\n')}\n`);
    this.lines = [];
  }
}

/**
 * Resolves on SIGINT/SIGTERM or after `seconds` (if given). Without `seconds` a
 * referenced timer keeps the event loop alive: signal listeners do not, and the
 * probe session's own handles are unreferenced (JS decides its lifetime), so the
 * process would otherwise run out of work and exit with the session still open.
 */
export function untilStopped(seconds: number | undefined): Promise<string> {
  return new Promise((resolve) => {
    const done = (why: string) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      clearTimeout(timer);
      resolve(why);
    };
    const onInt = () => done('SIGINT');
    const onTerm = () => done('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    const timer = seconds !== undefined ? setTimeout(() => done('duration'), seconds * 1000) : setInterval(() => {}, 2 ** 31 - 1);
  });
}

export function parseSeconds(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number of seconds, got "${text}"`);
  return v;
}
