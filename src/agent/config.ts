/**
 * The agent's YAML config file (see README "Configuration"). Unknown keys and
 * wrong types are errors naming file:line:col; command-line flags override it.
 */
import * as fs from 'node:fs';
import { LineCounter, parseDocument, isMap, type Node as YamlNode } from 'yaml';
import type { Family, ProbeConfig } from '../native/addon';
import type { GraphCaps } from '../graph/graph';
import { parseDuration } from '../rules/units';

export interface AgentConfig {
  socket?: string;
  rules?: string;
  metricsAddr?: string;
  logLevel?: string;
  logPretty?: boolean;
  families?: Family[];
  probes?: ProbeConfig;
  graph?: Partial<GraphCaps>;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const FAMILIES = ['net', 'io', 'proc', 'sched'];

export function loadAgentConfig(file: string): AgentConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read config ${file}: ${(e as Error).message}`);
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  const where = (n: YamlNode | null | undefined) => {
    const p = lc.linePos(n?.range?.[0] ?? 0);
    return `${file}:${p.line}:${p.col}`;
  };
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const p = lc.linePos(e.pos[0]);
    throw new ConfigError(`${file}:${p.line}:${p.col}: ${e.message.split('\n')[0]}`);
  }
  const out: AgentConfig = {};
  if (doc.contents === null) return out;
  if (!isMap(doc.contents)) throw new ConfigError(`${where(doc.contents)}: the config must be a mapping`);
  const str = (v: unknown, at: YamlNode, key: string): string => {
    if (typeof v !== 'string') throw new ConfigError(`${where(at)}: "${key}" must be a string`);
    return v;
  };
  const ns = (v: unknown, at: YamlNode, key: string): bigint => {
    if (typeof v !== 'string' && typeof v !== 'number') throw new ConfigError(`${where(at)}: "${key}" must be a duration like 10ms`);
    const d = typeof v === 'number' ? v * 1e9 : parseDuration(v);
    if (d === null || d === undefined || !Number.isFinite(Number(d))) throw new ConfigError(`${where(at)}: "${key}": bad duration "${v}"`);
    return BigInt(Math.round(Number(d)));
  };
  for (const pair of doc.contents.items) {
    const key = String((pair.key as { value?: unknown })?.value ?? '');
    const valNode = pair.value as YamlNode;
    const v = (valNode as { toJSON?: () => unknown })?.toJSON?.() ?? (valNode as { value?: unknown })?.value;
    switch (key) {
      case 'socket':
        out.socket = str(v, valNode, key);
        break;
      case 'rules':
        out.rules = str(v, valNode, key);
        break;
      case 'metrics_addr':
        out.metricsAddr = str(v, valNode, key);
        break;
      case 'log_level':
        out.logLevel = str(v, valNode, key);
        break;
      case 'log_pretty':
        out.logPretty = v === true;
        break;
      case 'families':
        if (!Array.isArray(v) || v.some((f) => !FAMILIES.includes(String(f)))) throw new ConfigError(`${where(valNode)}: "families" must be a list of ${FAMILIES.join(', ')}`);
        out.families = v as Family[];
        break;
      case 'probes': {
        if (!v || typeof v !== 'object') throw new ConfigError(`${where(valNode)}: "probes" must be a mapping`);
        const p: ProbeConfig = {};
        for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
          if (k === 'io_min_latency') p.ioMinLatencyNs = ns(val, valNode, k);
          else if (k === 'offcpu_min') p.offcpuMinNs = ns(val, valNode, k);
          else if (k === 'runq_min') p.runqMinNs = ns(val, valNode, k);
          else if (k === 'tcp_flush') p.tcpFlushNs = ns(val, valNode, k);
          else if (k === 'include_kthreads') p.skipKthreads = val !== true;
          else throw new ConfigError(`${where(valNode)}: unknown probes key "${k}" (io_min_latency, offcpu_min, runq_min, tcp_flush, include_kthreads)`);
        }
        out.probes = p;
        break;
      }
      case 'graph': {
        if (!v || typeof v !== 'object') throw new ConfigError(`${where(valNode)}: "graph" must be a mapping`);
        const g: Partial<GraphCaps> = {};
        for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
          if (k === 'max_processes') g.maxProcesses = Number(val);
          else if (k === 'max_peers') g.maxPeers = Number(val);
          else if (k === 'max_devices') g.maxDevices = Number(val);
          else if (k === 'exited_grace') g.exitedGraceNs = Number(ns(val, valNode, k));
          else if (k === 'idle_ttl') g.idleTtlNs = Number(ns(val, valNode, k));
          else throw new ConfigError(`${where(valNode)}: unknown graph key "${k}" (max_processes, max_peers, max_devices, exited_grace, idle_ttl)`);
        }
        out.graph = g;
        break;
      }
      default:
        throw new ConfigError(`${where(pair.key as YamlNode)}: unknown config key "${key}" (socket, rules, metrics_addr, log_level, log_pretty, families, probes, graph)`);
    }
  }
  return out;
}
