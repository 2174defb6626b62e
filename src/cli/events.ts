/** `xctl events`: the live, decoded event stream. */
import { parseArgs } from 'node:util';
import { LiveSource, describeFailures } from '../sources/live';
import { libraryChangeText } from '../sources/gpu-libs';
import { programsNotRunning } from '../native/addon';
import { EventFilter } from '../events/filter';
import { toEvent, formatText } from '../kinds/format';
import { kindChoicesText } from '../kinds/registry';
import { LineWriter, parseSeconds, untilStopped } from './output';
import { PROBE_OPTIONS, probeHelp, probeSettings } from './probe-options';
import { UsageError } from './usage';
import { IdentityCache } from '../identity/resolver';
import { parseJobVars } from '../identity/rank';
import { resolveConfig } from '../config/config';

/** identity.host_root and identity.job_vars from the config file and environment (defaults if it cannot be read). */
export function identityOptions() {
  try {
    const { identity } = resolveConfig({}).config;
    return { hostRoot: identity.hostRoot, jobSources: parseJobVars(identity.jobVars) };
  } catch {
    return {};
  }
}

export const eventsHelp = () => `usage: xctl events [--pid N]... [--kind K]... [--json] [--duration S] [probe options]
  --pid N              only events of process N (repeatable; signals match sender or target)
  --kind K             only kind K: ${kindChoicesText(35, 23)}
  --json               one JSON object per line, with the process's container, pod, slurm
                       and rank where known
  --duration S         stop after S seconds (default: until Ctrl-C)
${probeHelp()}`;

export async function eventsCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      pid: { type: 'string', multiple: true },
      kind: { type: 'string', multiple: true },
      json: { type: 'boolean' },
      duration: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      ...PROBE_OPTIONS,
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${eventsHelp()}\n`);
    return 0;
  }
  const pids = (values.pid ?? []).map((p) => {
    const n = Number(p);
    if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--pid must be a positive integer, got "${p}"`);
    return n;
  });
  let filter: EventFilter;
  try {
    filter = new EventFilter({ pids, kinds: values.kind ?? [] });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const seconds = parseSeconds('duration', values.duration);
  const { families, probes } = probeSettings(values);
  const source = new LiveSource({
    families,
    config: probes,
    onLibraryChange: (e) => process.stderr.write(`xctl events: ${libraryChangeText(e)}\n`),
  });
  const out = new LineWriter();
  const json = values.json === true;
  const ids = json ? new IdentityCache(identityOptions()) : undefined;
  const status = source.start((batch) => {
    for (let i = 0; i < batch.count; i++) {
      if (!filter.matches(batch, i)) continue;
      const ev = toEvent(batch, i, source.clock);
      if (ids && !ev.kthread && ev.pid > 0) {
        const id = ids.get(ev.pid, Number(ev.start_ns), ev.kind === 'exec');
        if (id.container) Object.assign(ev, { container: id.container });
        if (id.pod) Object.assign(ev, { pod: id.pod });
        if (id.slurm) Object.assign(ev, { slurm: id.slurm });
        if (id.rank) Object.assign(ev, { rank: id.rank });
      }
      out.push(json ? JSON.stringify(ev) : formatText(ev));
    }
    out.flush();
  });
  for (const n of source.notes) process.stderr.write(`xctl: ${n}\n`);
  const attached = status.filter((f) => f.loaded).map((f) => f.family);
  process.stderr.write(`xctl events: probing ${attached.join(', ')}\n`);
  const failures = describeFailures(status.filter((f) => f.error || programsNotRunning(f).length));
  if (status.some((f) => f.error || programsNotRunning(f).length)) {
    process.stderr.write(`xctl events: some probes are not running:\n${failures}\n`);
  }
  await untilStopped(seconds);
  source.stop();
  out.flush();
  return 0;
}
