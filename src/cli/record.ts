/** `xctl record`: the live stream into a recording file (src/record/file.ts format). */
import { parseArgs } from 'node:util';
import * as os from 'node:os';
import { LiveSource, describeFailures } from '../sources/live';
import { programsNotRunning } from '../native/addon';
import { RecordWriter } from '../record/file';
import { parseSeconds, untilStopped } from './output';
import { PROBE_OPTIONS, probeHelp, probeSettings } from './probe-options';
import { UsageError } from './usage';
import { SnapshotCollector, snapshotPath } from '../identity/snapshot';
import { F_KTHREAD, Kind, OFFSETS } from '../events/layout';
import { identityOptions } from './events';

export const recordHelp = () => `usage: xctl record -o FILE [--duration S] [probe options]
  -o, --output FILE    recording to write (replay with: xctl replay FILE)
  --duration S         stop after S seconds (default: until Ctrl-C)
${probeHelp()}`;

export async function recordCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      output: { type: 'string', short: 'o' },
      duration: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      ...PROBE_OPTIONS,
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${recordHelp()}\n`);
    return 0;
  }
  if (!values.output) throw new UsageError('-o FILE is required');
  const seconds = parseSeconds('duration', values.duration);
  const { families, probes: config } = probeSettings(values);
  const source = new LiveSource({ families, config });
  const writer = new RecordWriter(values.output, {
    bootToWallOffsetNs: source.clock.bootToWallOffsetNs,
    families,
    meta: { command: 'xctl record', argv, host: os.hostname() },
  });
  // identities of the recorded processes, resolved on a timer off the write path (src/identity/snapshot.ts)
  const ids = new SnapshotCollector(identityOptions());
  const status = source.start((batch) => {
    writer.writeBatch(batch.buffer, batch.byteOffset, batch.count);
    for (let i = 0; i < batch.count; i++) {
      const kind = batch.kind(i);
      if (batch.flags(i) & F_KTHREAD) continue;
      ids.note(batch.pid(i), batch.u64Number(i, OFFSETS['hdr.start_ns']), kind === Kind.EXEC);
    }
  });
  const idTimer = setInterval(() => ids.flush(), 200);
  for (const n of source.notes) process.stderr.write(`xctl: ${n}\n`);
  const broken = status.filter((f) => f.error || programsNotRunning(f).length);
  if (broken.length) process.stderr.write(`xctl record: some probes are not running:\n${describeFailures(broken)}\n`);
  process.stderr.write(`xctl record: writing ${values.output}${seconds ? ` for ${seconds} s` : ' (Ctrl-C to stop)'}\n`);
  await untilStopped(seconds);
  const stats = source.stats();
  source.stop(); // drains the rings into the writer first
  writer.close();
  clearInterval(idTimer);
  ids.write(snapshotPath(values.output), os.hostname());
  process.stderr.write(
    `xctl record: ${writer.records} records, ${writer.bytesWritten} bytes; ` +
      `kernel drops ${stats?.kernelDrops ?? 0}, user drops ${stats?.userDrops ?? 0}\n`,
  );
  return 0;
}
