// Structured logs with pino: JSON lines by default, or a compact human format
// (`HH:MM:SS.mmm LEVEL msg key=value ...`) without pulling in pino-pretty.
import pino from 'pino';

export type Logger = pino.Logger;

export interface LoggerOptions {
  /** default: $XCTL_LOG_LEVEL, else 'info' */
  level?: string;
  pretty?: boolean;
  /** default: stderr (stdout carries the CLI's own output) */
  destination?: pino.DestinationStream;
}

const LEVEL_NAMES = Object.keys(pino.levels.values).concat('silent');

export function createLogger(opts: LoggerOptions = {}): pino.Logger {
  const level = opts.level ?? (process.env.XCTL_LOG_LEVEL || 'info');
  if (!LEVEL_NAMES.includes(level)) {
    throw new Error(`invalid log level "${level}" (expected one of ${LEVEL_NAMES.join(', ')})`);
  }
  const destination = opts.destination ?? pino.destination({ dest: 2, sync: true });
  return pino({ level }, opts.pretty ? prettyStream(destination) : destination);
}

/** Rewrites each JSON line pino produces into the human format before it reaches `out`. */
export function prettyStream(out: pino.DestinationStream): pino.DestinationStream {
  return { write: (line: string) => out.write(formatPrettyLine(line)) };
}

const HIDDEN_KEYS = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

function clock(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

function formatValue(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v) ?? String(v);
}

export function formatPrettyLine(line: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const label = (pino.levels.labels[rec.level as number] ?? String(rec.level)).toUpperCase();
  const parts = [clock(typeof rec.time === 'number' ? rec.time : Date.now()), label.padEnd(5), String(rec.msg ?? '')];
  let stack = '';
  for (const [k, v] of Object.entries(rec)) {
    if (HIDDEN_KEYS.has(k)) continue;
    // pino's error serialiser: show the message inline, the stack below the line
    if (v && typeof v === 'object' && typeof (v as { stack?: unknown }).stack === 'string') {
      const err = v as { message?: unknown; stack: string };
      parts.push(`${k}=${formatValue(String(err.message ?? ''))}`);
      stack += `\n    ${err.stack.split('\n').join('\n    ')}`;
      continue;
    }
    parts.push(`${k}=${formatValue(v)}`);
  }
  return `${parts.join(' ') + stack}\n`;
}
