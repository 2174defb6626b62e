/**
 * Crash reports: on an uncaught exception, an unhandled rejection or a fatal
 * start-up error, the agent writes one JSON file into the state directory
 * with what was running (command line, uptime, the request in flight),
 * versions (xctl, Node, kernel), the effective config, the probe status and
 * the last errors it logged, then exits non-zero. The supervisor restarts it;
 * the report is what is left to debug.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface CrashContext {
  config?: unknown;
  probes?: unknown;
  activity?: string;
  extra?: Record<string, unknown>;
}

const MAX_ERRORS = 20;

export class CrashReporter {
  readonly recentErrors: { at: string; message: string }[] = [];
  private installed = false;
  private handlers: [string, (...a: unknown[]) => void][] = [];

  constructor(
    readonly stateDir: string,
    private readonly context: () => CrashContext = () => ({}),
    private readonly onWritten?: (file: string) => void,
  ) {}

  /** Remember an error for the next report (bounded). */
  noteError(message: string): void {
    this.recentErrors.push({ at: new Date().toISOString(), message: message.slice(0, 2000) });
    if (this.recentErrors.length > MAX_ERRORS) this.recentErrors.shift();
  }

  /** Writes the report; returns its path, or undefined when it could not be written. */
  write(reason: string, err: unknown): string | undefined {
    let ctx: CrashContext = {};
    try {
      ctx = this.context();
    } catch (e) {
      ctx = { extra: { context_error: String(e) } };
    }
    const e = err instanceof Error ? err : new Error(String(err));
    const report = {
      kind: 'xctl-crash-report',
      reason,
      time: new Date().toISOString(),
      error: { name: e.name, message: e.message, stack: e.stack },
      running: {
        pid: process.pid,
        argv: process.argv,
        uptime_s: Math.round(process.uptime()),
        activity: ctx.activity ?? null,
        memory: process.memoryUsage(),
        cpu: process.cpuUsage(),
      },
      versions: {
        xctl: packageVersion(),
        node: process.version,
        v8: process.versions.v8,
        kernel: os.release(),
        os: `${os.type()} ${os.version()}`,
        arch: process.arch,
        host: os.hostname(),
      },
      config: ctx.config ?? null,
      probes: ctx.probes ?? null,
      last_errors: this.recentErrors,
      ...ctx.extra,
    };
    try {
      fs.mkdirSync(this.stateDir, { recursive: true, mode: 0o750 });
      const file = path.join(this.stateDir, `crash-${report.time.replace(/[:.]/g, '-')}-${process.pid}.json`);
      fs.writeFileSync(file, `${JSON.stringify(report, (_k, v) => (typeof v === 'bigint' ? String(v) : v), 2)}\n`, { mode: 0o640 });
      this.onWritten?.(file);
      return file;
    } catch (we) {
      process.stderr.write(`xctl: could not write the crash report into ${this.stateDir}: ${(we as Error).message}\n`);
      return undefined;
    }
  }

  /** Installs process handlers: report, then exit 70 (EX_SOFTWARE). */
  install(exit: (code: number) => void = (c) => process.exit(c)): void {
    if (this.installed) return;
    this.installed = true;
    const fatal = (reason: string) => (err: unknown) => {
      const file = this.write(reason, err);
      process.stderr.write(
        `xctl: fatal ${reason}: ${(err as Error)?.stack ?? String(err)}\n${file ? `xctl: crash report written to ${file}\n` : ''}`,
      );
      exit(70);
    };
    this.handlers = [
      ['uncaughtException', fatal('uncaughtException')],
      ['unhandledRejection', fatal('unhandledRejection')],
    ];
    for (const [ev, h] of this.handlers) process.on(ev as 'uncaughtException', h);
  }

  uninstall(): void {
    for (const [ev, h] of this.handlers) process.off(ev as 'uncaughtException', h);
    this.handlers = [];
    this.installed = false;
  }
}

export function packageVersion(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      return (JSON.parse(fs.readFileSync(path.resolve(__dirname, rel), 'utf8')) as { version: string }).version;
    } catch {
      /* next */
    }
  }
  return 'unknown';
}

/** Crash reports in the state dir, newest first. */
export function listCrashReports(stateDir: string): string[] {
  try {
    return fs
      .readdirSync(stateDir)
      .filter((f) => /^crash-.*\.json$/.test(f))
      .sort()
      .reverse()
      .map((f) => path.join(stateDir, f));
  } catch {
    return [];
  }
}
