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
import { DURATION_BOUND_TEXT, MAX_DURATION_NS, parseDuration, parseSize } from '../rules/units';
import { DEFAULT_SOCKET_PATH } from '../ipc/socket-path';
import { defaultRulesDir } from '../package-paths';
import { DEFAULT_JOB_VARS, parseJobVars } from '../identity/rank';

/** What the file says (only the keys present). */
export interface AgentConfig {
  socket?: string;
  rules?: string;
  metricsAddr?: string;
  logLevel?: string;
  logPretty?: boolean;
  stateDir?: string;
  /** track and export only processes in this cgroup subtree (any hierarchy) */
  scopeCgroup?: string;
  families?: Family[];
  probes?: ProbeConfig;
  bpfStats?: boolean;
  graph?: Partial<GraphCaps>;
  limits?: { ringBytes?: number; cpuBudget?: number; governorIntervalMs?: number };
  kubernetes?: { nodeConditions?: boolean; nodeName?: string };
  /** NVML (family gpu): gpu.nvml_library, gpu.interval */
  gpu?: { nvmlLibrary?: string; intervalMs?: number; ncclInflightMs?: number };
  /** xctl fix: per-action policy, allowed callers, rate limit, re-check interval */
  fix?: FixConfig;
  /** identity.job_vars (job id precedence), identity.host_root (where the node's /run and /var/lib are) */
  identity?: { jobVars?: string; hostRoot?: string };
}

/** Every value resolved. */
export interface EffectiveConfig {
  socket: string;
  rules: string;
  metricsAddr: string;
  logLevel: string;
  logPretty: boolean;
  stateDir: string;
  /** "/": every process */
  scopeCgroup: string;
  families: Family[];
  probes: ProbeConfig;
  bpfStats: boolean;
  graph: GraphCaps;
  limits: { ringBytes: number; cpuBudget: number; governorIntervalMs: number };
  kubernetes: { nodeConditions: boolean; nodeName: string };
  gpu: { nvmlLibrary?: string; intervalMs: number; ncclInflightMs: number };
  fix: FixConfig;
  identity: { jobVars: string; hostRoot: string };
}

export class ConfigError extends UserError {
  override name = 'ConfigError';
}

type Kind = 'string' | 'bool' | 'duration' | 'count' | 'size' | 'ratio' | 'families' | 'loglevel' | 'addr' | 'policy' | 'ids' | 'jobvars';
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
  /** where the (converted) value goes in AgentConfig */
  set: (c: AgentConfig, v: never) => void;
  /** how help shows the default, when not the value itself */
  defaultText?: () => string;
  doc: string;
}
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
const ms = (n: number) => BigInt(n * 1e6);

export const DEFAULT_STATE_DIR = '/var/lib/xctl';
export const DEFAULT_METRICS_ADDR = '127.0.0.1:9464';
export const DEFAULT_CONFIG_FILE = '/etc/xctl/config.yaml';

type Section = 'probes' | 'graph' | 'limits' | 'kubernetes' | 'gpu' | 'fix' | 'identity';
/** The AgentConfig part a dotted key writes into, created on first use. */
function section<S extends Section>(c: AgentConfig, s: S): NonNullable<AgentConfig[S]> {
  return (c[s] ??= {} as NonNullable<AgentConfig[S]>) as NonNullable<AgentConfig[S]>;
}

/** The closed list of configuration keys: the only place a key is declared. */
export const CONFIG_KEYS: readonly KeySpec[] = [
  {
    key: 'socket',
    kind: 'string',
    env: 'XCTL_SOCKET',
    flag: '--socket',
    arg: 'PATH',
    set: (c, v: string) => (c.socket = v),
    default: () => DEFAULT_SOCKET_PATH,
    doc: 'Unix socket for the CLI, mode 0660',
  },
  {
    key: 'rules',
    kind: 'string',
    env: 'XCTL_RULES',
    flag: '--rules',
    arg: 'DIR',
    set: (c, v: string) => (c.rules = v),
    default: () => defaultRulesDir(),
    defaultText: () => "the package's rules/",
    doc: 'rule directory; reloaded on change and on SIGHUP',
  },
  {
    key: 'metrics_addr',
    kind: 'addr',
    env: 'XCTL_METRICS_ADDR',
    flag: '--metrics-addr',
    arg: 'A',
    set: (c, v: string) => (c.metricsAddr = v),
    default: () => DEFAULT_METRICS_ADDR,
    doc: '/metrics /healthz /readyz listen address, or "off"; other interfaces are an explicit opt-in',
  },
  {
    key: 'log_level',
    kind: 'loglevel',
    env: 'XCTL_LOG_LEVEL',
    flag: '--log-level',
    arg: 'L',
    set: (c, v: string) => (c.logLevel = v),
    default: () => 'info',
    doc: LOG_LEVELS.join('|'),
  },
  {
    key: 'log_pretty',
    kind: 'bool',
    env: 'XCTL_LOG_PRETTY',
    flag: '--log-pretty',
    set: (c, v: boolean) => (c.logPretty = v),
    default: () => false,
    doc: 'human-readable logs instead of JSON lines',
  },
  {
    key: 'state_dir',
    kind: 'string',
    env: 'XCTL_STATE_DIR',
    flag: '--state-dir',
    arg: 'DIR',
    set: (c, v: string) => (c.stateDir = v),
    default: () => DEFAULT_STATE_DIR,
    doc: 'crash reports and agent state',
  },
  {
    key: 'scope_cgroup',
    kind: 'string',
    env: 'XCTL_SCOPE_CGROUP',
    flag: '--scope-cgroup',
    arg: 'PATH',
    set: (c, v: string) => (c.scopeCgroup = v),
    default: () => '/',
    doc: 'track and export only processes whose cgroup path (in any hierarchy) is PATH or below it, e.g. /kubepods.slice; / is every process',
  },
  {
    key: 'families',
    kind: 'families',
    env: 'XCTL_FAMILIES',
    flag: '--families',
    arg: 'LIST',
    probe: true,
    set: (c, v: Family[]) => (c.families = v),
    default: () => defaultFamilies(),
    defaultText: () => familiesDefaultText(),
    doc: 'probe families, comma separated',
  },
  {
    key: 'probes.io_min_latency',
    kind: 'duration',
    flag: '--io-min-ms',
    arg: 'N',
    flagMs: true,
    probe: true,
    set: (c, v: bigint) => (section(c, 'probes').ioMinLatencyNs = v),
    default: () => ms(10),
    doc: 'report block IO at or above this latency; errors always',
  },
  {
    key: 'probes.offcpu_min',
    kind: 'duration',
    flag: '--offcpu-min-ms',
    arg: 'N',
    flagMs: true,
    probe: true,
    set: (c, v: bigint) => (section(c, 'probes').offcpuMinNs = v),
    default: () => ms(10),
    doc: 'report single sleeps at or above this, with their waker (every sleep is still totalled)',
  },
  {
    key: 'probes.runq_min',
    kind: 'duration',
    flag: '--runq-min-ms',
    arg: 'N',
    flagMs: true,
    probe: true,
    set: (c, v: bigint) => (section(c, 'probes').runqMinNs = v),
    default: () => ms(10),
    doc: 'kept for old configs: run-queue delay is always totalled in the kernel, never cut',
  },
  {
    key: 'probes.tcp_flush',
    kind: 'duration',
    flag: '--tcp-flush-ms',
    arg: 'N',
    flagMs: true,
    probe: true,
    set: (c, v: bigint) => (section(c, 'probes').tcpFlushNs = v),
    default: () => ms(1000),
    doc: 'per-socket retransmit aggregation interval',
  },
  {
    key: 'probes.include_kthreads',
    kind: 'bool',
    flag: '--include-kthreads',
    probe: true,
    set: (c, v: boolean) => (section(c, 'probes').skipKthreads = !v),
    default: () => false,
    doc: 'also report kernel threads',
  },
  {
    key: 'probes.bpf_stats',
    kind: 'bool',
    env: 'XCTL_BPF_STATS',
    set: (c, v: boolean) => (c.bpfStats = v),
    default: () => false,
    doc: 'set kernel.bpf_stats_enabled=1 so the in-kernel cost per program is exported (costs ~20 ns per program run)',
  },
  {
    key: 'graph.max_processes',
    kind: 'count',
    set: (c, v: number) => (section(c, 'graph').maxProcesses = v),
    default: () => DEFAULT_CAPS.maxProcesses,
    doc: 'graph cap',
  },
  {
    key: 'graph.max_peers',
    kind: 'count',
    set: (c, v: number) => (section(c, 'graph').maxPeers = v),
    default: () => DEFAULT_CAPS.maxPeers,
    doc: 'graph cap',
  },
  {
    key: 'graph.max_devices',
    kind: 'count',
    set: (c, v: number) => (section(c, 'graph').maxDevices = v),
    default: () => DEFAULT_CAPS.maxDevices,
    doc: 'graph cap',
  },
  {
    key: 'graph.max_errors',
    kind: 'count',
    set: (c, v: number) => (section(c, 'graph').maxErrors = v),
    default: () => DEFAULT_CAPS.maxErrors,
    doc: 'graph cap',
  },
  {
    key: 'graph.exited_grace',
    kind: 'duration',
    set: (c, v: bigint) => (section(c, 'graph').exitedGraceNs = Number(v)),
    default: () => BigInt(DEFAULT_CAPS.exitedGraceNs),
    doc: 'exited processes are kept this long',
  },
  {
    key: 'graph.idle_ttl',
    kind: 'duration',
    set: (c, v: bigint) => (section(c, 'graph').idleTtlNs = Number(v)),
    default: () => BigInt(DEFAULT_CAPS.idleTtlNs),
    doc: 'idle entities are dropped after this',
  },
  {
    key: 'limits.ring_bytes',
    kind: 'size',
    env: 'XCTL_RING_BYTES',
    set: (c, v: number) => (section(c, 'limits').ringBytes = v),
    default: () => 4 * 1024 * 1024,
    doc: 'BPF ring size per family (power of two)',
  },
  {
    key: 'limits.cpu_budget',
    kind: 'ratio',
    env: 'XCTL_CPU_BUDGET',
    flag: '--cpu-budget',
    arg: 'F',
    set: (c, v: number) => (section(c, 'limits').cpuBudget = v),
    default: () => 0.05,
    doc: 'CPU budget for handling records, as a fraction of one core; above it the in-kernel thresholds are raised',
  },
  {
    key: 'limits.governor_interval',
    kind: 'duration',
    set: (c, v: bigint) => (section(c, 'limits').governorIntervalMs = Number(v) / 1e6),
    default: () => ms(5000),
    doc: 'how often the CPU budget is checked',
  },
  {
    key: 'gpu.nvml_library',
    kind: 'string',
    env: 'XCTL_NVML_LIBRARY',
    set: (c, v: string) => (section(c, 'gpu').nvmlLibrary = v),
    default: () => 'libnvidia-ml.so.1',
    doc: 'NVML library for the gpu family, dlopened at run time (never linked)',
  },
  {
    key: 'gpu.interval',
    kind: 'duration',
    set: (c, v: bigint) => (section(c, 'gpu').intervalMs = Math.max(1, Math.round(Number(v) / 1e6))),
    default: () => ms(1000),
    doc: 'NVML sampling interval (per-GPU samples and per-process GPU memory)',
  },
  {
    key: 'gpu.nccl_inflight',
    kind: 'duration',
    set: (c, v: bigint) => (section(c, 'gpu').ncclInflightMs = Math.max(1, Math.round(Number(v) / 1e6))),
    default: () => ms(10_000),
    doc: 'an NCCL collective in flight this long is reported (cuda family): a rank counts as waiting in it from then on',
  },
  // remediation policy: what `xctl fix --apply` may run (allow), only with --yes (ask), or never (deny)
  {
    key: 'fix.policy',
    kind: 'policy',
    set: (c, v: Record<string, PolicyMode>) => (section(c, 'fix').policy = v),
    default: () => ({ ...DEFAULT_POLICY }),
    doc: `per action type: allow (runs on --apply), ask (needs --yes), deny (never); e.g. {terminate: deny}`,
  },
  {
    key: 'fix.allowed_uids',
    kind: 'ids',
    env: 'XCTL_FIX_ALLOWED_UIDS',
    set: (c, v: number[]) => (section(c, 'fix').allowedUids = v),
    default: () => [0],
    doc: 'callers (SO_PEERCRED uid) allowed to apply fixes',
  },
  {
    key: 'fix.allowed_gids',
    kind: 'ids',
    set: (c, v: number[]) => (section(c, 'fix').allowedGids = v),
    default: () => [],
    doc: 'callers (SO_PEERCRED gid) allowed to apply fixes, in addition to the uids',
  },
  {
    key: 'fix.rate_limit',
    kind: 'count',
    set: (c, v: number) => (section(c, 'fix').rateLimit = { max: v, windowS: c.fix?.rateLimit?.windowS ?? 60 }),
    default: () => 10,
    doc: 'at most this many executions of one action type per rate window',
  },
  {
    key: 'fix.rate_window',
    kind: 'duration',
    set: (c, v: bigint) => (section(c, 'fix').rateLimit = { max: c.fix?.rateLimit?.max ?? 10, windowS: Number(v) / 1e9 }),
    default: () => ms(60_000),
    doc: 'the rate-limit window',
  },
  {
    key: 'fix.recheck_interval',
    kind: 'duration',
    set: (c, v: bigint) => (section(c, 'fix').recheckIntervalS = Number(v) / 1e9),
    default: () => ms(60_000),
    doc: 'periodic re-verification of resolved plans (recurrence); 0s disables',
  },
  {
    key: 'fix.audit_max_size',
    kind: 'size',
    set: (c, v: number) => (section(c, 'fix').auditMaxBytes = v),
    default: () => 64 * 2 ** 20,
    doc: 'the audit log is rotated at this size (never between the before and after of a step)',
  },
  {
    key: 'fix.audit_keep',
    kind: 'count',
    set: (c, v: number) => (section(c, 'fix').auditKeep = v),
    default: () => 4,
    doc: 'rotated audit files kept (audit.jsonl.1 newest); the oldest is deleted',
  },
  {
    key: 'fix.plan_max',
    kind: 'count',
    set: (c, v: number) => (section(c, 'fix').planMax = v),
    default: () => 2000,
    doc: 'plans kept in the state directory; past it the oldest is deleted',
  },
  {
    key: 'fix.plan_max_age',
    kind: 'duration',
    set: (c, v: bigint) => (section(c, 'fix').planMaxAgeS = Number(v) / 1e9),
    default: () => ms(7 * 86_400_000),
    doc: 'plans older than this are deleted (a bounded number per re-check tick)',
  },
  {
    key: 'fix.refused_per_minute',
    kind: 'count',
    set: (c, v: number) => (section(c, 'fix').refusedPerMinute = v),
    default: () => 10,
    doc: 'fix requests per minute from one uid that may not apply (dry runs, refused --apply); more are refused unplanned and audited as one line',
  },
  {
    key: 'kubernetes.node_conditions',
    kind: 'bool',
    env: 'XCTL_KUBE_NODE_CONDITIONS',
    set: (c, v: boolean) => (section(c, 'kubernetes').nodeConditions = v),
    default: () => false,
    doc: 'publish fatal GPU conditions as node conditions (in-cluster service account)',
  },
  {
    key: 'kubernetes.node_name',
    kind: 'string',
    env: 'XCTL_NODE_NAME',
    flag: '--node-name',
    arg: 'NAME',
    set: (c, v: string) => (section(c, 'kubernetes').nodeName = v),
    default: () => process.env.NODE_NAME || os.hostname(),
    defaultText: () => '$NODE_NAME, else the host name',
    doc: "this node's name: the node label of the per-rank metrics, and the Kubernetes node to patch",
  },
  {
    key: 'identity.job_vars',
    kind: 'jobvars',
    env: 'XCTL_JOB_VARS',
    set: (c, v: string) => (section(c, 'identity').jobVars = v),
    default: () => DEFAULT_JOB_VARS,
    doc: 'job id of a rank: the first of these environment variables present (A:B joins two), in order',
  },
  {
    key: 'identity.host_root',
    kind: 'string',
    env: 'XCTL_HOST_ROOT',
    set: (c, v: string) => (section(c, 'identity').hostRoot = v),
    default: () => '/',
    doc: "where the node's /run and /var/lib are seen (container runtime files naming containers and pods); /host in the DaemonSet",
  },
  {
    key: 'probes.syscall_flush',
    kind: 'duration',
    flag: '--syscall-flush-ms',
    arg: 'N',
    flagMs: true,
    probe: true,
    set: (c, v: bigint) => (section(c, 'probes').syscallFlushNs = v),
    default: () => ms(1000),
    doc: 'per-process interval of the failed-syscall count flush (the first error of each syscall and errno goes out at once)',
  },
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
    case 'jobvars':
      if (typeof v !== 'string') throw new Error(`"${spec.key}" must be a list of variable names like ${DEFAULT_JOB_VARS}`);
      parseJobVars(v); // throws naming the bad entry
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
      if (typeof v === 'number' && v >= 0 && v * 1e9 <= MAX_DURATION_NS) return BigInt(Math.round(v * 1e9)); // bare number: seconds
      const d = typeof v === 'string' ? parseDuration(v.trim()) : undefined;
      if (d === undefined || d < 0n) throw new Error(`"${spec.key}" must be a duration like 10ms or 5s, ${DURATION_BOUND_TEXT}`);
      return d;
    }
    case 'count': {
      const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) throw new Error(`"${spec.key}" must be a positive integer`);
      return n;
    }
    case 'size': {
      const n = typeof v === 'number' ? v : typeof v === 'string' ? parseSizeText(v) : undefined;
      if (n === undefined || !Number.isInteger(n) || !isPow2(n) || n < 4096)
        throw new Error(`"${spec.key}" must be a power of two of at least 4096 bytes, like 4MiB`);
      return n;
    }
    case 'ratio': {
      const n = typeof v === 'number' ? v : typeof v === 'string' ? parsePercent(v) : undefined;
      if (n === undefined || !Number.isFinite(n) || n <= 0 || n > 64)
        throw new Error(`"${spec.key}" must be a positive fraction of one core like 0.05 or 5%`);
      return n;
    }
    case 'policy': {
      // a mapping action -> mode, merged over the defaults
      if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error(`"${spec.key}" must map action types to allow, ask or deny`);
      const out: Record<string, string> = { ...DEFAULT_POLICY };
      for (const [action, mode] of Object.entries(v as Record<string, unknown>)) {
        if (!(ACTION_TYPES as readonly string[]).includes(action))
          throw new Error(`"${spec.key}": unknown action type "${action}" (${ACTION_TYPES.join(', ')})`);
        if (typeof mode !== 'string' || !POLICY_MODES.includes(mode))
          throw new Error(`"${spec.key}.${action}" must be one of ${POLICY_MODES.join(', ')}, got ${JSON.stringify(mode)}`);
        out[action] = mode;
      }
      return out;
    }
    case 'ids': {
      const list =
        typeof v === 'string'
          ? v
              .split(',')
              .map((x) => x.trim())
              .filter(Boolean)
              .map(Number)
          : typeof v === 'number'
            ? [v]
            : v;
      if (!Array.isArray(list) || list.some((x) => !Number.isInteger(Number(x)) || Number(x) < 0))
        throw new Error(`"${spec.key}" must be a list of numeric ids like [0, 1000]`);
      return list.map(Number);
    }
    case 'families': {
      const list =
        typeof v === 'string'
          ? v
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean)
          : v;
      if (!Array.isArray(list) || !list.length)
        throw new Error(`"${spec.key}" must be a list of probe families, e.g. ${familiesDefaultText()}`);
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
        walk(value ?? (keyNode as YamlNode), `${name}.`);
        continue;
      }
      const spec = SPEC.get(full);
      if (!spec) {
        const known = prefix ? CONFIG_KEYS.filter((k) => k.key.startsWith(prefix)).map((k) => k.key.slice(prefix.length)) : topKeys;
        throw new ConfigError(
          `${where(keyNode)}: unknown config key "${full}" (${prefix ? `${prefix.slice(0, -1)} keys` : 'keys'}: ${known.join(', ')})`,
        );
      }
      if ((isMap(valNode) && spec.kind !== 'policy') || (isSeq(valNode) && spec.kind !== 'families' && spec.kind !== 'ids'))
        throw new ConfigError(
          `${where(value)}: "${full}" must be a ${spec.kind === 'families' || spec.kind === 'ids' ? 'list' : 'single value'}`,
        );
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
  for (const spec of CONFIG_KEYS) if (flat.has(spec.key)) spec.set(out, flat.get(spec.key) as never);
  out.fix ??= {};
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
    scopeCgroup: c.scopeCgroup!,
    families: c.families!,
    probes: c.probes!,
    bpfStats: c.bpfStats!,
    graph: { ...DEFAULT_CAPS, ...c.graph },
    limits: { ringBytes: c.limits!.ringBytes!, cpuBudget: c.limits!.cpuBudget!, governorIntervalMs: c.limits!.governorIntervalMs! },
    kubernetes: { nodeConditions: c.kubernetes!.nodeConditions!, nodeName: c.kubernetes!.nodeName! },
    gpu: { nvmlLibrary: c.gpu?.nvmlLibrary, intervalMs: c.gpu?.intervalMs ?? 1000, ncclInflightMs: c.gpu?.ncclInflightMs ?? 10_000 },
    fix: c.fix ?? {},
    identity: { jobVars: c.identity!.jobVars!, hostRoot: c.identity!.hostRoot! },
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
