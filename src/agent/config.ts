/**
 * The agent's configuration: one YAML file, environment overrides, command
 * line flags (README "Operations" lists every key). Precedence, lowest first:
 * built-in default < config file < environment (XCTL_*) < flag. Unknown keys
 * and wrong types are errors naming file:line:col; a bad environment value
 * names the variable. resolveConfig() also reports where each effective value
 * came from (`xctl config show`).
 */
import { ACTION_TYPES } from '../rules/vocabulary';
import { UserError } from '../errors';
import { DEFAULT_POLICY, type FixConfig, type PolicyMode } from '../fix/policy';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { LineCounter, parseDocument, isMap, isScalar, isSeq, type Node as YamlNode } from 'yaml';
import { NodeReader } from '../rules/yaml-reader';
import { formatPos } from '../rules/errors';
import type { Family, ProbeConfig } from '../native/addon';
import { checkFamilies, defaultFamilies, familiesDefaultText } from '../native/families';
import { DEFAULT_CAPS, type GraphCaps } from '../graph/graph';
import { parseDuration, parseSize } from '../rules/units';
import { DEFAULT_SOCKET_PATH } from '../ipc/socket-path';
import { defaultRulesDir } from '../package-paths';

/** What the file says (only the keys present). */
export interface AgentConfig {
  socket?: string;
  rules?: string;
  metricsAddr?: string;
  logLevel?: string;
  logPretty?: boolean;
  stateDir?: string;
  families?: Family[];
  probes?: ProbeConfig;
  bpfStats?: boolean;
  graph?: Partial<GraphCaps>;
  limits?: { ringBytes?: number; cpuBudget?: number; governorIntervalMs?: number };
  kubernetes?: { nodeConditions?: boolean; nodeName?: string };
  /** NVML (family gpu): gpu.nvml_library, gpu.interval */
  gpu?: { nvmlLibrary?: string; intervalMs?: number };
  /** xctl fix: per-action policy, allowed callers, rate limit, re-check interval */
  fix?: FixConfig;
}

/** Every value resolved. */
export interface EffectiveConfig {
  socket: string;
  rules: string;
  metricsAddr: string;
  logLevel: string;
  logPretty: boolean;
  stateDir: string;
  families: Family[];
  probes: ProbeConfig;
  bpfStats: boolean;
  graph: GraphCaps;
  limits: { ringBytes: number; cpuBudget: number; governorIntervalMs: number };
  kubernetes: { nodeConditions: boolean; nodeName: string };
  gpu: { nvmlLibrary?: string; intervalMs: number };
  fix: FixConfig;
}

export class ConfigError extends UserError {
  override name = 'ConfigError';
}

type Kind = 'string' | 'bool' | 'duration' | 'count' | 'size' | 'ratio' | 'families' | 'loglevel' | 'addr' | 'policy' | 'ids';
const POLICY_MODES = ['allow', 'ask', 'deny'];

export interface KeySpec {
  key: string; // YAML path, dotted
  kind: Kind;
  env?: string;
  /** command-line flag of `xctl agent` (and config show, doctor); help and parsing are generated from it */
  flag?: string;
  /** the flag's argument in help ("PATH"); a duration flag with `flagMs` takes a number of milliseconds */
  arg?: string;
  flagMs?: boolean;
  /** a probe setting: its flag is also one of `xctl events` and `xctl record` */
  probe?: boolean;
  default: () => unknown;
  /** how help shows the default, when not the value itself */
  defaultText?: () => string;
  doc: string;
}
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
const ms = (n: number) => BigInt(n * 1e6);

export const DEFAULT_STATE_DIR = '/var/lib/xctl';
export const DEFAULT_METRICS_ADDR = '127.0.0.1:9464';
export const DEFAULT_CONFIG_FILE = '/etc/xctl/config.yaml';

/** The closed list of configuration keys. */
export const CONFIG_KEYS: readonly KeySpec[] = [
  { key: 'socket', kind: 'string', env: 'XCTL_SOCKET', flag: '--socket', arg: 'PATH', default: () => DEFAULT_SOCKET_PATH, doc: 'Unix socket for the CLI, mode 0660' },
  { key: 'rules', kind: 'string', env: 'XCTL_RULES', flag: '--rules', arg: 'DIR', default: () => defaultRulesDir(), defaultText: () => "the package's rules/", doc: 'rule directory; reloaded on change and on SIGHUP' },
  { key: 'metrics_addr', kind: 'addr', env: 'XCTL_METRICS_ADDR', flag: '--metrics-addr', arg: 'A', default: () => DEFAULT_METRICS_ADDR, doc: '/metrics /healthz /readyz listen address, or "off"; other interfaces are an explicit opt-in' },
  { key: 'log_level', kind: 'loglevel', env: 'XCTL_LOG_LEVEL', flag: '--log-level', arg: 'L', default: () => 'info', doc: LOG_LEVELS.join('|') },
  { key: 'log_pretty', kind: 'bool', env: 'XCTL_LOG_PRETTY', flag: '--log-pretty', default: () => false, doc: 'human-readable logs instead of JSON lines' },
  { key: 'state_dir', kind: 'string', env: 'XCTL_STATE_DIR', flag: '--state-dir', arg: 'DIR', default: () => DEFAULT_STATE_DIR, doc: 'crash reports and agent state' },
  { key: 'families', kind: 'families', env: 'XCTL_FAMILIES', flag: '--families', arg: 'LIST', probe: true, default: () => defaultFamilies(), defaultText: () => familiesDefaultText(), doc: 'probe families, comma separated' },
  { key: 'probes.io_min_latency', kind: 'duration', flag: '--io-min-ms', arg: 'N', flagMs: true, probe: true, default: () => ms(10), doc: 'report block IO at or above this latency; errors always' },
  { key: 'probes.offcpu_min', kind: 'duration', flag: '--offcpu-min-ms', arg: 'N', flagMs: true, probe: true, default: () => ms(10), doc: 'report sleeps at or above this' },
  { key: 'probes.runq_min', kind: 'duration', flag: '--runq-min-ms', arg: 'N', flagMs: true, probe: true, default: () => ms(10), doc: 'report run-queue delay at or above this' },
  { key: 'probes.tcp_flush', kind: 'duration', flag: '--tcp-flush-ms', arg: 'N', flagMs: true, probe: true, default: () => ms(1000), doc: 'per-socket retransmit aggregation interval' },
  { key: 'probes.include_kthreads', kind: 'bool', flag: '--include-kthreads', probe: true, default: () => false, doc: 'also report kernel threads' },
  { key: 'probes.bpf_stats', kind: 'bool', env: 'XCTL_BPF_STATS', default: () => false, doc: 'set kernel.bpf_stats_enabled=1 so the in-kernel cost per program is exported (costs ~20 ns per program run)' },
  { key: 'graph.max_processes', kind: 'count', default: () => DEFAULT_CAPS.maxProcesses, doc: 'graph cap' },
  { key: 'graph.max_peers', kind: 'count', default: () => DEFAULT_CAPS.maxPeers, doc: 'graph cap' },
  { key: 'graph.max_devices', kind: 'count', default: () => DEFAULT_CAPS.maxDevices, doc: 'graph cap' },
  { key: 'graph.max_errors', kind: 'count', default: () => DEFAULT_CAPS.maxErrors, doc: 'graph cap' },
  { key: 'graph.exited_grace', kind: 'duration', default: () => BigInt(DEFAULT_CAPS.exitedGraceNs), doc: 'exited processes are kept this long' },
  { key: 'graph.idle_ttl', kind: 'duration', default: () => BigInt(DEFAULT_CAPS.idleTtlNs), doc: 'idle entities are dropped after this' },
  { key: 'limits.ring_bytes', kind: 'size', env: 'XCTL_RING_BYTES', default: () => 4 * 1024 * 1024, doc: 'BPF ring size per family (power of two)' },
  { key: 'limits.cpu_budget', kind: 'ratio', env: 'XCTL_CPU_BUDGET', flag: '--cpu-budget', arg: 'F', default: () => 0.05, doc: 'agent CPU budget as a fraction of one core; above it the in-kernel thresholds are raised' },
  { key: 'limits.governor_interval', kind: 'duration', default: () => ms(5000), doc: 'how often the CPU budget is checked' },
  { key: 'gpu.nvml_library', kind: 'string', env: 'XCTL_NVML_LIBRARY', default: () => 'libnvidia-ml.so.1', doc: 'NVML library for the gpu family, dlopened at run time (never linked)' },
  { key: 'gpu.interval', kind: 'duration', default: () => ms(1000), doc: 'NVML sampling interval (per-GPU samples and per-process GPU memory)' },
  // remediation policy: what `xctl fix --apply` may run (allow), only with --yes (ask), or never (deny)
  { key: 'fix.policy', kind: 'policy', default: () => ({ ...DEFAULT_POLICY }), doc: `per action type: allow (runs on --apply), ask (needs --yes), deny (never); e.g. {terminate: deny}` },
  { key: 'fix.allowed_uids', kind: 'ids', env: 'XCTL_FIX_ALLOWED_UIDS', default: () => [0], doc: 'callers (SO_PEERCRED uid) allowed to apply fixes' },
  { key: 'fix.allowed_gids', kind: 'ids', default: () => [], doc: 'callers (SO_PEERCRED gid) allowed to apply fixes, in addition to the uids' },
  { key: 'fix.rate_limit', kind: 'count', default: () => 10, doc: 'at most this many executions of one action type per rate window' },
  { key: 'fix.rate_window', kind: 'duration', default: () => ms(60_000), doc: 'the rate-limit window' },
  { key: 'fix.recheck_interval', kind: 'duration', default: () => ms(60_000), doc: 'periodic re-verification of resolved plans (recurrence); 0s disables' },
  { key: 'kubernetes.node_conditions', kind: 'bool', env: 'XCTL_KUBE_NODE_CONDITIONS', default: () => false, doc: 'publish fatal GPU conditions as node conditions (in-cluster service account)' },
  { key: 'kubernetes.node_name', kind: 'string', env: 'XCTL_NODE_NAME', default: () => process.env.NODE_NAME || os.hostname(), defaultText: () => '$NODE_NAME, else the host name', doc: 'node to patch' },
];

const SPEC = new Map(CONFIG_KEYS.map((k) => [k.key, k]));
const SECTIONS = [...new Set(CONFIG_KEYS.filter((k) => k.key.includes('.')).map((k) => k.key.split('.')[0]!))];
/** legacy spellings kept for old files */
const ALIASES: Record<string, string> = {};

function isPow2(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

/** Converts and validates one value; throws a message without location. */
function convert(spec: KeySpec, v: unknown): unknown {
  switch (spec.kind) {
    case 'string':
      if (typeof v !== 'string' || !v) throw new Error(`"${spec.key}" must be a non-empty string`);
      return v;
    case 'addr':
      if (typeof v !== 'string' || !(v === 'off' || /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]*):\d{1,5}$/.test(v)))
        throw new Error(`"${spec.key}" must be HOST:PORT (e.g. 127.0.0.1:9464) or "off"`);
      return v;
    case 'loglevel':
      if (typeof v !== 'string' || !LOG_LEVELS.includes(v)) throw new Error(`"${spec.key}" must be one of ${LOG_LEVELS.join(', ')}`);
      return v;
    case 'bool':
      if (typeof v === 'boolean') return v;
      if (v === 'true' || v === '1' || v === 'yes') return true;
      if (v === 'false' || v === '0' || v === 'no') return false;
      throw new Error(`"${spec.key}" must be true or false`);
    case 'duration': {
      if (typeof v === 'number' && v >= 0) return BigInt(Math.round(v * 1e9)); // bare number: seconds
      const d = typeof v === 'string' ? parseDuration(v.trim()) : undefined;
      if (d === undefined || d < 0n) throw new Error(`"${spec.key}" must be a duration like 10ms or 5s`);
      return d;
    }
    case 'count': {
      const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) throw new Error(`"${spec.key}" must be a positive integer`);
      return n;
    }
    case 'size': {
      const n = typeof v === 'number' ? v : typeof v === 'string' ? parseSizeText(v) : undefined;
      if (n === undefined || !Number.isInteger(n) || !isPow2(n) || n < 4096) throw new Error(`"${spec.key}" must be a power of two of at least 4096 bytes, like 4MiB`);
      return n;
    }
    case 'ratio': {
      const n = typeof v === 'number' ? v : typeof v === 'string' ? parsePercent(v) : undefined;
      if (n === undefined || !Number.isFinite(n) || n <= 0 || n > 64) throw new Error(`"${spec.key}" must be a positive fraction of one core like 0.05 or 5%`);
      return n;
    }
    case 'policy': {
      // a mapping action -> mode, merged over the defaults
      if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error(`"${spec.key}" must map action types to allow, ask or deny`);
      const out: Record<string, string> = { ...DEFAULT_POLICY };
      for (const [action, mode] of Object.entries(v as Record<string, unknown>)) {
        if (!(ACTION_TYPES as readonly string[]).includes(action)) throw new Error(`"${spec.key}": unknown action type "${action}" (${ACTION_TYPES.join(', ')})`);
        if (typeof mode !== 'string' || !POLICY_MODES.includes(mode)) throw new Error(`"${spec.key}.${action}" must be one of ${POLICY_MODES.join(', ')}, got ${JSON.stringify(mode)}`);
        out[action] = mode;
      }
      return out;
    }
    case 'ids': {
      const list = typeof v === 'string' ? v.split(',').map((x) => x.trim()).filter(Boolean).map(Number) : typeof v === 'number' ? [v] : v;
      if (!Array.isArray(list) || list.some((x) => !Number.isInteger(Number(x)) || Number(x) < 0)) throw new Error(`"${spec.key}" must be a list of numeric ids like [0, 1000]`);
      return list.map(Number);
    }
    case 'families': {
      const list = typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v;
      if (!Array.isArray(list) || !list.length) throw new Error(`"${spec.key}" must be a list of probe families, e.g. ${familiesDefaultText()}`);
      return checkFamilies(list.map(String));
    }
  }
}

function parseSizeText(s: string): number | undefined {
  if (/^\d+$/.test(s.trim())) return Number(s);
  try {
    const n = parseSize(s.trim());
    return n === undefined || n === null ? undefined : Number(n);
  } catch {
    return undefined;
  }
}

function parsePercent(s: string): number | undefined {
  const m = /^\s*([\d.]+)\s*(%?)\s*$/.exec(s);
  if (!m) return undefined;
  return Number(m[1]) / (m[2] ? 100 : 1);
}

interface FileValues {
  values: Map<string, { value: unknown; line: number; col: number }>;
}

/** Parses and validates a config file: every key known, every value typed. */
function parseConfigFile(file: string): FileValues {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read config ${file}: ${(e as Error).message}`);
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const p = lc.linePos(e.pos[0]);
    throw new ConfigError(`${file}:${p.line}:${p.col}: ${e.message.split('\n')[0]}`);
  }
  const reader = new NodeReader(file, text, lc, doc);
  const where = (n: YamlNode | null | undefined) => formatPos(reader.posOf(n));
  const firstError = () => new ConfigError(reader.errors[0]!.toString());
  const values: FileValues['values'] = new Map();
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) return { values };
  const topKeys = [...new Set(CONFIG_KEYS.map((k) => k.key.split('.')[0]!))];
  const walk = (map: YamlNode, prefix: string) => {
    const pairs = reader.pairs(map, prefix ? `"${prefix.slice(0, -1)}"` : 'the config');
    if (!pairs || reader.errors.length) throw firstError();
    for (const { key: name, keyNode, value } of pairs) {
      const full = ALIASES[prefix + name] ?? prefix + name;
      const valNode = reader.resolve(value);
      if (reader.errors.length) throw firstError();
      if (!prefix && SECTIONS.includes(name)) {
        walk(value ?? (keyNode as YamlNode), name + '.');
        continue;
      }
      const spec = SPEC.get(full);
      if (!spec) {
        const known = prefix
          ? CONFIG_KEYS.filter((k) => k.key.startsWith(prefix)).map((k) => k.key.slice(prefix.length))
          : topKeys;
        throw new ConfigError(`${where(keyNode)}: unknown config key "${full}" (${prefix ? prefix.slice(0, -1) + ' keys' : 'keys'}: ${known.join(', ')})`);
      }
      if ((isMap(valNode) && spec.kind !== 'policy') || (isSeq(valNode) && spec.kind !== 'families' && spec.kind !== 'ids'))
        throw new ConfigError(`${where(value)}: "${full}" must be a ${spec.kind === 'families' || spec.kind === 'ids' ? 'list' : 'single value'}`);
      const raw = valNode ? valNode.toJSON() : null;
      let converted: unknown;
      try {
        converted = convert(spec, raw);
      } catch (e) {
        throw new ConfigError(`${where(value ?? keyNode)}: ${(e as Error).message}`);
      }
      const p = reader.posOf(keyNode);
      values.set(full, { value: converted, line: p.line, col: p.col });
    }
  };
  walk(doc.contents as YamlNode, '');
  return { values };
}

/** The values the file sets, in the agent's terms (throws ConfigError). */
export function loadAgentConfig(file: string): AgentConfig {
  const { values } = parseConfigFile(file);
  const flat = new Map([...values].map(([k, v]) => [k, v.value]));
  return toAgentConfig(flat);
}

/** `xctl config validate`: null when valid, else the error text. */
export function validateConfigFile(file: string): string | null {
  try {
    parseConfigFile(file);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

function toAgentConfig(flat: Map<string, unknown>): AgentConfig {
  const out: AgentConfig = {};
  const g = <T>(k: string) => flat.get(k) as T | undefined;
  const set = <T>(v: T | undefined, fn: (v: T) => void) => {
    if (v !== undefined) fn(v);
  };
  set(g<string>('socket'), (v) => (out.socket = v));
  set(g<string>('rules'), (v) => (out.rules = v));
  set(g<string>('metrics_addr'), (v) => (out.metricsAddr = v));
  set(g<string>('log_level'), (v) => (out.logLevel = v));
  set(g<boolean>('log_pretty'), (v) => (out.logPretty = v));
  set(g<string>('state_dir'), (v) => (out.stateDir = v));
  set(g<Family[]>('families'), (v) => (out.families = v));
  const probes: ProbeConfig = {};
  set(g<bigint>('probes.io_min_latency'), (v) => (probes.ioMinLatencyNs = v));
  set(g<bigint>('probes.offcpu_min'), (v) => (probes.offcpuMinNs = v));
  set(g<bigint>('probes.runq_min'), (v) => (probes.runqMinNs = v));
  set(g<bigint>('probes.tcp_flush'), (v) => (probes.tcpFlushNs = v));
  set(g<boolean>('probes.include_kthreads'), (v) => (probes.skipKthreads = !v));
  if (Object.keys(probes).length) out.probes = probes;
  set(g<boolean>('probes.bpf_stats'), (v) => (out.bpfStats = v));
  const graph: Partial<GraphCaps> = {};
  set(g<number>('graph.max_processes'), (v) => (graph.maxProcesses = v));
  set(g<number>('graph.max_peers'), (v) => (graph.maxPeers = v));
  set(g<number>('graph.max_devices'), (v) => (graph.maxDevices = v));
  set(g<number>('graph.max_errors'), (v) => (graph.maxErrors = v));
  set(g<bigint>('graph.exited_grace'), (v) => (graph.exitedGraceNs = Number(v)));
  set(g<bigint>('graph.idle_ttl'), (v) => (graph.idleTtlNs = Number(v)));
  if (Object.keys(graph).length) out.graph = graph;
  const limits: NonNullable<AgentConfig['limits']> = {};
  set(g<number>('limits.ring_bytes'), (v) => (limits.ringBytes = v));
  set(g<number>('limits.cpu_budget'), (v) => (limits.cpuBudget = v));
  set(g<bigint>('limits.governor_interval'), (v) => (limits.governorIntervalMs = Number(v) / 1e6));
  if (Object.keys(limits).length) out.limits = limits;
  const kube: NonNullable<AgentConfig['kubernetes']> = {};
  set(g<boolean>('kubernetes.node_conditions'), (v) => (kube.nodeConditions = v));
  set(g<string>('kubernetes.node_name'), (v) => (kube.nodeName = v));
  if (Object.keys(kube).length) out.kubernetes = kube;
  const gpu: NonNullable<AgentConfig['gpu']> = {};
  set(g<string>('gpu.nvml_library'), (v) => (gpu.nvmlLibrary = v));
  set(g<bigint>('gpu.interval'), (v) => (gpu.intervalMs = Math.max(1, Math.round(Number(v) / 1e6))));
  if (Object.keys(gpu).length) out.gpu = gpu;
  const fix: FixConfig = {};
  set(g<Record<string, PolicyMode>>('fix.policy'), (v) => (fix.policy = v));
  set(g<number[]>('fix.allowed_uids'), (v) => (fix.allowedUids = v));
  set(g<number[]>('fix.allowed_gids'), (v) => (fix.allowedGids = v));
  set(g<number>('fix.rate_limit'), (v) => (fix.rateLimit = { max: v, windowS: fix.rateLimit?.windowS ?? 60 }));
  set(g<bigint>('fix.rate_window'), (v) => (fix.rateLimit = { max: fix.rateLimit?.max ?? 10, windowS: Number(v) / 1e9 }));
  set(g<bigint>('fix.recheck_interval'), (v) => (fix.recheckIntervalS = Number(v) / 1e9));
  out.fix = fix;
  return out;
}

export interface ResolveOptions {
  /** config file; undefined: $XCTL_CONFIG, else /etc/xctl/config.yaml when it exists; null: none */
  file?: string | null;
  env?: NodeJS.ProcessEnv;
  /** values given on the command line, by config key (already typed, or strings to convert) */
  flags?: Record<string, unknown>;
}

export interface Resolved {
  config: EffectiveConfig;
  /** config key -> "default" | "file:PATH:LINE" | "env NAME" | "flag --name" */
  sources: Record<string, string>;
  /** config key -> the value, as config show prints it */
  values: Record<string, unknown>;
  file?: string;
}

/** default < file < env < flag, with the origin of every value. */
export function resolveConfig(opts: ResolveOptions = {}): Resolved {
  const env = opts.env ?? process.env;
  let file = opts.file === null ? undefined : (opts.file ?? (env.XCTL_CONFIG || undefined));
  if (!file && opts.file !== null && fs.existsSync(DEFAULT_CONFIG_FILE)) file = DEFAULT_CONFIG_FILE;
  const flat = new Map<string, unknown>();
  const sources: Record<string, string> = {};
  for (const spec of CONFIG_KEYS) {
    flat.set(spec.key, spec.default());
    sources[spec.key] = 'default';
  }
  if (file) {
    for (const [k, v] of parseConfigFile(file).values) {
      flat.set(k, v.value);
      sources[k] = `file:${file}:${v.line}`;
    }
  }
  for (const spec of CONFIG_KEYS) {
    const raw = spec.env ? env[spec.env] : undefined;
    if (raw === undefined || raw === '') continue;
    try {
      flat.set(spec.key, convert(spec, raw));
    } catch (e) {
      throw new ConfigError(`env ${spec.env}="${raw}": ${(e as Error).message}`);
    }
    sources[spec.key] = `env ${spec.env}`;
  }
  for (const [k, raw] of Object.entries(opts.flags ?? {})) {
    if (raw === undefined) continue;
    const spec = SPEC.get(k);
    if (!spec) throw new ConfigError(`internal: unknown flag key ${k}`);
    try {
      flat.set(k, typeof raw === 'bigint' ? raw : convert(spec, raw));
    } catch (e) {
      throw new ConfigError(`${spec.flag ?? k}: ${(e as Error).message}`);
    }
    sources[k] = `flag ${spec.flag ?? k}`;
  }
  const c = toAgentConfig(flat);
  const config: EffectiveConfig = {
    socket: c.socket!,
    rules: c.rules!,
    metricsAddr: c.metricsAddr!,
    logLevel: c.logLevel!,
    logPretty: c.logPretty!,
    stateDir: c.stateDir!,
    families: c.families!,
    probes: c.probes!,
    bpfStats: c.bpfStats!,
    graph: { ...DEFAULT_CAPS, ...c.graph },
    limits: { ringBytes: c.limits!.ringBytes!, cpuBudget: c.limits!.cpuBudget!, governorIntervalMs: c.limits!.governorIntervalMs! },
    kubernetes: { nodeConditions: c.kubernetes!.nodeConditions!, nodeName: c.kubernetes!.nodeName! },
    gpu: { nvmlLibrary: c.gpu?.nvmlLibrary, intervalMs: c.gpu?.intervalMs ?? 1000 },
    fix: c.fix ?? {},
  };
  const values: Record<string, unknown> = {};
  for (const spec of CONFIG_KEYS) values[spec.key] = displayValue(spec, flat.get(spec.key));
  return { config, sources, values, file };
}

/** The probe settings of `xctl events` / `xctl record`: built-in defaults < flags (no file, no environment). */
export function resolveProbeFlags(flags: Record<string, unknown>): { families: Family[]; probes: ProbeConfig } {
  const { config } = resolveConfig({ file: null, env: {}, flags });
  return { families: config.families, probes: config.probes };
}

/** JSON-friendly form: durations as "10ms", sizes in bytes. */
export function displayValue(spec: KeySpec, v: unknown): unknown {
  if (spec.kind === 'duration' && typeof v === 'bigint') return formatDuration(v);
  return v;
}

function formatDuration(ns: bigint): string {
  const units: [bigint, string][] = [
    [3_600_000_000_000n, 'h'],
    [60_000_000_000n, 'm'],
    [1_000_000_000n, 's'],
    [1_000_000n, 'ms'],
    [1_000n, 'us'],
  ];
  for (const [scale, u] of units) if (ns >= scale && ns % scale === 0n) return `${ns / scale}${u}`;
  return `${ns}ns`;
}

/** A copy of the effective config that JSON.stringify accepts (bigints as strings). */
export function configForReport(c: EffectiveConfig): unknown {
  return JSON.parse(JSON.stringify(c, (_k, v) => (typeof v === 'bigint' ? `${v}ns` : v)));
}
