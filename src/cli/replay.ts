/** `xctl replay FILE`: decode a recording, as text or JSON lines. */
import { parseArgs } from 'node:util';
import { EventFilter } from '../events/filter';
import { formatText, toEvent } from '../kinds/format';
import { kindChoicesText } from '../kinds/registry';
import { RecordReader, RecordingError, headerClock, type RecordingHeader } from '../record/file';

export const REPLAY_HELP = `usage: xctl replay FILE [--json] [--pid N]... [--kind K]... [--utc]
  --json     one JSON object per line (no summary on stderr)
  --pid N    only events of process N (repeatable; signals match sender or target)
  --kind K   only kind K (repeatable or comma-separated): ${kindChoicesText(58, 13)}
  --utc      text times in UTC instead of local time
exit status: 0 ok, 2 unreadable/corrupt recording or bad arguments`;

/** Where output goes; process.stdout/stderr fit, tests pass collectors. */
export interface OutputStream {
  write(chunk: string): unknown;
  once?(event: 'drain', listener: () => void): unknown;
  on?(event: 'error', listener: (e: NodeJS.ErrnoException) => void): unknown;
}

export interface ReplayIO {
  stdout: OutputStream;
  stderr: OutputStream;
}

const MAX_WARNINGS = 10;

function summary(path: string, h: RecordingHeader): string {
  const fams = h.families.length ? h.families.join(',') : '-';
  return (
    `${path}: recorded on ${h.host || '?'} (kernel ${h.kernel || '?'}) at ${h.created || '?'}, ` +
    `families ${fams}, record v${h.record_version} layout ${h.layout_hash}`
  );
}

export async function replayCommand(args: string[], io: ReplayIO = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const err = (msg: string): void => void io.stderr.write(`xctl replay: ${msg}\n`);

  let values: { json?: boolean; pid?: string[]; kind?: string[]; utc?: boolean; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args,
      options: {
        json: { type: 'boolean' },
        pid: { type: 'string', multiple: true },
        kind: { type: 'string', multiple: true },
        utc: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    }));
  } catch (e) {
    err(`${(e as Error).message}\n${REPLAY_HELP}`);
    return 2;
  }
  if (values.help) {
    io.stdout.write(`${REPLAY_HELP}\n`);
    return 0;
  }
  const path = positionals[0];
  if (positionals.length !== 1 || path === undefined) {
    err(`expected exactly one recording file\n${REPLAY_HELP}`);
    return 2;
  }
  let filter: EventFilter;
  try {
    const pids = (values.pid ?? []).map((p) => {
      const n = Number(p);
      if (!/^\d+$/.test(p) || !Number.isSafeInteger(n)) throw new Error(`--pid must be a non-negative integer, got "${p}"`);
      return n;
    });
    const kinds = (values.kind ?? []).flatMap((k) => k.split(',')).filter((k) => k !== '');
    filter = new EventFilter({ pids, kinds });
  } catch (e) {
    err((e as Error).message);
    return 2;
  }

  const json = values.json === true;
  const utc = values.utc === true;
  // `xctl replay f | head`: stop quietly when the reader goes away
  let closed = false;
  let wake: (() => void) | undefined; // resolves a pending drain wait
  const onError = (e: NodeJS.ErrnoException): void => {
    closed = true;
    if (e.code !== 'EPIPE') err(`write failed: ${e.message}`);
    wake?.();
  };
  io.stdout.on?.('error', onError);

  let reader: RecordReader | undefined;
  let total = 0;
  let shown = 0;
  let invalid = 0;
  try {
    reader = RecordReader.open(path);
    const clock = headerClock(reader.header);
    if (!json) err(summary(path, reader.header));
    for (const k of reader.changedKinds) err(k.reason);
    for (const { offset, batch } of reader.chunks()) {
      let out = '';
      for (let i = 0; i < batch.count; i++) {
        const problem = batch.validate(i);
        if (problem !== null) {
          if (invalid++ < MAX_WARNINGS) err(`chunk at byte ${offset}: ${problem} (skipped)`);
          continue;
        }
        if (!filter.matches(batch, i)) continue;
        const ev = toEvent(batch, i, clock);
        out += `${json ? JSON.stringify(ev) : formatText(ev, { utc })}\n`;
        shown++;
      }
      total += batch.count;
      if (out !== '' && !closed && io.stdout.write(out) === false && io.stdout.once) {
        const once = io.stdout.once.bind(io.stdout);
        await new Promise<void>((resolve) => {
          wake = resolve;
          once('drain', resolve);
        });
        wake = undefined;
      }
      if (closed) break;
    }
  } catch (e) {
    if (e instanceof RecordingError) {
      err(e.message);
      return 2;
    }
    throw e;
  } finally {
    // onError stays attached: an EPIPE for the last write can arrive after we return
    reader?.close();
  }
  if (!json) {
    const changed = reader.skipped ? `, ${reader.skipped} of changed layout skipped` : '';
    err(`${total + reader.skipped} records, ${shown} shown${invalid ? `, ${invalid} invalid skipped` : ''}${changed}`);
  }
  return 0;
}
