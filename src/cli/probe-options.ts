/** Command-line options shared by every command that runs the live probes. */
import type { Family, ProbeConfig } from '../native/addon';
import { ALL_FAMILIES } from '../native/addon';
import { UsageError } from './usage';

export const PROBE_OPTIONS = {
  families: { type: 'string' },
  'io-min-ms': { type: 'string' },
  'offcpu-min-ms': { type: 'string' },
  'runq-min-ms': { type: 'string' },
  'tcp-flush-ms': { type: 'string' },
  'include-kthreads': { type: 'boolean' },
} as const;

export interface ProbeArgs {
  families?: string;
  'io-min-ms'?: string;
  'offcpu-min-ms'?: string;
  'runq-min-ms'?: string;
  'tcp-flush-ms'?: string;
  'include-kthreads'?: boolean;
}

const KNOWN: readonly string[] = [...ALL_FAMILIES, 'bench', 'gpu', 'cuda'];

export function parseFamilies(text: string | undefined): Family[] {
  if (!text) return [...ALL_FAMILIES];
  const out: Family[] = [];
  for (const f of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!KNOWN.includes(f)) throw new UsageError(`unknown probe family "${f}" (families: ${KNOWN.join(', ')})`);
    out.push(f as Family);
  }
  return out;
}

function msToNs(name: string, text: string | undefined): bigint | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (!Number.isFinite(v) || v < 0) throw new UsageError(`--${name} must be a non-negative number of milliseconds, got "${text}"`);
  return BigInt(Math.round(v * 1e6));
}

export function probeConfig(a: ProbeArgs): ProbeConfig {
  const c: ProbeConfig = {};
  const io = msToNs('io-min-ms', a['io-min-ms']);
  const off = msToNs('offcpu-min-ms', a['offcpu-min-ms']);
  const rq = msToNs('runq-min-ms', a['runq-min-ms']);
  const tcp = msToNs('tcp-flush-ms', a['tcp-flush-ms']);
  if (io !== undefined) c.ioMinLatencyNs = io;
  if (off !== undefined) c.offcpuMinNs = off;
  if (rq !== undefined) c.runqMinNs = rq;
  if (tcp !== undefined) c.tcpFlushNs = tcp;
  if (a['include-kthreads']) c.skipKthreads = false;
  return c;
}

export const PROBE_HELP = `  --families LIST      probe families, comma separated (default net,io,proc,sched)
  --io-min-ms N        report block IO at or above N ms (default 10; errors always)
  --offcpu-min-ms N    report sleeps at or above N ms (default 10)
  --runq-min-ms N      report run-queue delay at or above N ms (default 10)
  --tcp-flush-ms N     per-socket retransmit aggregation interval (default 1000)
  --include-kthreads   also report kernel threads`;
