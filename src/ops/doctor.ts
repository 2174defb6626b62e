/**
 * `xctl doctor`: everything the agent needs from the machine, checked one by
 * one, each with a status and the fix. Nothing here changes the machine
 * except that probe checks load and attach each probe family for a moment.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { CAP, KERNEL_BTF, TRACEFS_DIR, effectiveCaps, hasCap as has, missingProbeCaps, mountType } from '../sources/preflight';
import { loadAddon, programsNotRunning, type Family, type FamilyStatus } from '../native/addon';
import { defaultFamilies, familyInfo, probeFamilies } from '../native/families';
import { RECORD_SIZE } from '../events/layout';
import { formatBytes } from '../events/units-text';
import { loadRuleDir } from '../rules/loader';
import { parseListenAddr } from './metrics';
import type { EffectiveConfig } from '../config/config';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'unavailable' | 'skip';

export interface Check {
  id: string;
  title: string;
  status: CheckStatus;
  detail: string;
  fix: string;
}

const NOTHING = 'nothing to do';
const CONTAINER_CAPS =
  'container: --cap-add BPF --cap-add PERFMON --cap-add SYS_ADMIN (Kubernetes: securityContext.capabilities.add, see deploy/kubernetes/daemonset.yaml); systemd: AmbientCapabilities= in deploy/systemd/xctl-agent.service';

export function checkKernel(release = os.release()): Check {
  const m = /^(\d+)\.(\d+)/.exec(release);
  const v = m ? Number(m[1]) * 1000 + Number(m[2]) : 0;
  const base = { id: 'kernel', title: 'kernel version' };
  if (v >= 5015)
    return { ...base, status: 'ok', detail: `Linux ${release} (BPF ring buffer, tp_btf, bpf_timer, CAP_BPF all available)`, fix: NOTHING };
  if (v >= 5008)
    return {
      ...base,
      status: 'warn',
      detail: `Linux ${release}: < 5.15 has no bpf_timer; TCP retransmits are reported one record each, not aggregated (the families' own checks below say what runs)`,
      fix: 'upgrade to Linux 5.15 or newer',
    };
  return {
    ...base,
    status: 'fail',
    detail: `Linux ${release}: the BPF ring buffer needs 5.8 or newer`,
    fix: 'upgrade the kernel to 5.15 or newer',
  };
}

export function checkBtf(): Check {
  const base = { id: 'btf', title: `kernel BTF (${KERNEL_BTF})` };
  try {
    fs.accessSync(KERNEL_BTF, fs.constants.R_OK);
    return { ...base, status: 'ok', detail: `present (${fs.statSync(KERNEL_BTF).size} bytes)`, fix: NOTHING };
  } catch (e) {
    const exists = fs.existsSync(KERNEL_BTF);
    return {
      ...base,
      status: 'fail',
      detail: exists ? `present but not readable: ${(e as Error).message}` : 'missing: CO-RE probes cannot be relocated',
      fix: exists
        ? 'run as root'
        : 'use a kernel built with CONFIG_DEBUG_INFO_BTF=y; in a container mount the host /sys/kernel/btf read-only (-v /sys/kernel/btf:/sys/kernel/btf:ro)',
    };
  }
}

export function checkCapabilities(caps = effectiveCaps()): Check[] {
  const admin = has(caps, CAP.SYS_ADMIN);
  const who = process.getuid?.() === 0 ? 'root' : `uid ${process.getuid?.()}`;
  const one = (name: 'BPF' | 'PERFMON', why: string): Check => {
    const ok = has(caps, CAP[name]) || admin;
    return {
      id: `cap_${name.toLowerCase()}`,
      title: `CAP_${name}`,
      status: ok ? 'ok' : 'fail',
      detail: ok ? (has(caps, CAP[name]) ? 'effective' : 'covered by CAP_SYS_ADMIN') : `missing (${who}): ${why}`,
      fix: ok ? NOTHING : `run as root (sudo xctl agent), or grant CAP_${name}: ${CONTAINER_CAPS}`,
    };
  };
  const bpf = one('BPF', 'cannot load BPF programs or create maps');
  const perf = one('PERFMON', 'cannot attach tracing programs or read kernel memory in them');
  const adminCheck: Check = {
    id: 'cap_sys_admin',
    title: 'CAP_SYS_ADMIN',
    status: admin ? 'ok' : bpf.status === 'ok' && perf.status === 'ok' ? 'warn' : 'fail',
    detail: admin
      ? 'effective'
      : `missing (${who}): without it CO-RE relocation cannot walk kernel BTF objects (io and proc lose on_rq_complete and on_oom_victim); also needed to mount tracefs and, outside containers, set kernel.bpf_stats_enabled`,
    fix: admin ? NOTHING : `run as root, or grant CAP_SYS_ADMIN: ${CONTAINER_CAPS}`,
  };
  return [bpf, perf, adminCheck];
}

export function checkMounts(): Check[] {
  const tracefs = mountType(TRACEFS_DIR);
  const bpffs = mountType('/sys/fs/bpf');
  const cg = mountType('/sys/fs/cgroup');
  return [
    {
      id: 'tracefs',
      title: `tracefs at ${TRACEFS_DIR}`,
      status: tracefs === 'tracefs' ? 'ok' : 'warn',
      detail:
        tracefs === 'tracefs'
          ? 'mounted'
          : 'not mounted: tp_btf/raw_tp probes still attach, but tracepoint discovery and cross-checks need it',
      fix: tracefs === 'tracefs' ? NOTHING : `mount -t tracefs nodev ${TRACEFS_DIR} (container: -v ${TRACEFS_DIR}:${TRACEFS_DIR})`,
    },
    {
      id: 'bpffs',
      title: 'bpffs at /sys/fs/bpf',
      status: bpffs === 'bpf' ? 'ok' : 'warn',
      detail: bpffs === 'bpf' ? 'mounted' : 'not mounted: xctl pins nothing, but bpftool inspection of the running probes wants it',
      fix: bpffs === 'bpf' ? NOTHING : 'mount -t bpf bpf /sys/fs/bpf',
    },
    {
      id: 'cgroup2',
      title: 'cgroup v2 at /sys/fs/cgroup',
      status: cg === 'cgroup2' ? 'ok' : 'warn',
      detail: cg ? `mounted (${cg})` : 'not mounted: cgroup ids in events cannot be mapped to cgroup paths',
      fix:
        cg === 'cgroup2'
          ? NOTHING
          : 'boot with the unified cgroup hierarchy (systemd.unified_cgroup_hierarchy=1); container: -v /sys/fs/cgroup:/sys/fs/cgroup:ro',
    },
  ];
}

/** Loads and attaches each BPF family for a moment, then detaches (NVML has its own check). */
export function checkProbes(families: readonly Family[] = defaultFamilies(), caps = effectiveCaps()): Check[] {
  const canBpf = missingProbeCaps(caps).length === 0;
  let addon: ReturnType<typeof loadAddon> | undefined;
  let loadErr = '';
  try {
    addon = loadAddon();
  } catch (e) {
    loadErr = (e as Error).message;
  }
  const probed = families.filter((f) => familyInfo(f)?.source !== 'nvml' && !familyInfo(f)?.internal);
  return probed.map((family): Check => {
    const base = { id: `probe_${family}`, title: `probe family ${family} on this kernel` };
    if (!addon)
      return { ...base, status: 'fail', detail: `native addon: ${loadErr}`, fix: 'bash scripts/build.sh (or use the container image)' };
    if (!canBpf)
      return {
        ...base,
        status: 'fail',
        detail: 'not tried: no CAP_BPF + CAP_PERFMON (or CAP_SYS_ADMIN)',
        fix: 'run as root or grant the capabilities (see cap_bpf)',
      };
    try {
      const buffers = [new ArrayBuffer(64 * RECORD_SIZE), new ArrayBuffer(64 * RECORD_SIZE)];
      const s = addon.open({ families: [family], buffers, onBatch: () => {}, paused: true, ringBytes: 64 * 1024 });
      try {
        return familyCoverage(
          family,
          s.status().find((f) => f.family === family),
        );
      } finally {
        s.stop();
      }
    } catch (e) {
      return {
        ...base,
        status: 'fail',
        detail: (e as Error).message.split('\n').slice(0, 4).join(' '),
        fix: 'run as root; check dmesg and the verifier log',
      };
    }
  });
}

/** One family's coverage on this kernel, from its load status: full (fallbacks named), or reduced and why. */
export function familyCoverage(family: Family, st: FamilyStatus | undefined): Check {
  const base = { id: `probe_${family}`, title: `probe family ${family} on this kernel` };
  const progs = st?.programs ?? [];
  const good = progs.filter((p) => p.attached);
  // X__fallback loads only when X fails verification: X is then covered by it
  const bad = st ? programsNotRunning(st) : [];
  if (st?.loaded && familyInfo(family)?.source === 'uprobe') {
    return { ...base, status: 'ok', detail: `loaded: ${progs.length} uprobe programs attach to the libraries processes map`, fix: NOTHING };
  }
  if (!st?.loaded || !good.length) {
    return {
      ...base,
      status: 'fail',
      detail: `${st?.error ?? 'nothing attached'}${bad.length ? `; ${bad.map((p) => `${p.name}: ${p.error ?? 'not attached'}`).join('; ')}` : ''}`,
      fix: 'check dmesg and the verifier log above (README "Supported kernels": 5.10 and newer)',
    };
  }
  if (bad.length) {
    // a default family that runs reduced with nothing in its place fails the doctor: the
    // scenes built on it (OOM, process_blocked, ...) would silently never fire
    const onByDefault = familyInfo(family)?.onByDefault === true;
    return {
      ...base,
      status: onByDefault ? 'fail' : 'warn',
      detail: `reduced: ${bad.map((p) => `${p.name} (${p.section}) not running because ${p.error ?? 'it did not attach'}`).join('; ')}; ${good.length} of ${progs.length} attached`,
      fix: `no fallback covers ${bad.length === 1 ? 'it' : 'them'} on this kernel (README "Supported kernels")${onByDefault ? '' : `; ${family} is opt-in`}`,
    };
  }
  const replaced = progs.filter((p) => p.coveredBy).map((p) => `${p.name} by ${p.coveredBy}`);
  return {
    ...base,
    status: 'ok',
    detail: `full: ${good.length} programs attached${replaced.length ? ` (${replaced.join(', ')}: this kernel's variants)` : ''}`,
    fix: NOTHING,
  };
}

const NVML_DIRS = [
  '/usr/lib/x86_64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu',
  '/usr/lib64',
  '/usr/lib',
  '/usr/local/nvidia/lib64',
  '/usr/local/nvidia/lib',
  '/run/nvidia/driver/usr/lib/x86_64-linux-gnu',
];

export function findNvml(): string | undefined {
  if (process.env.XCTL_NVML_LIBRARY && fs.existsSync(process.env.XCTL_NVML_LIBRARY)) return process.env.XCTL_NVML_LIBRARY;
  for (const d of NVML_DIRS) {
    const p = path.join(d, 'libnvidia-ml.so.1');
    if (fs.existsSync(p)) return p;
  }
  try {
    const out = execFileSync('ldconfig', ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 3000 });
    const m = /libnvidia-ml\.so\.1 .*=> (\S+)/.exec(out);
    if (m) return m[1];
  } catch {
    /* no ldconfig */
  }
  return undefined;
}

/** Opens the addon's gpu family (NVML, dlopened) for a moment: undefined when it loads, else the reason. */
export function probeNvml(nvmlLibrary?: string): { loaded: boolean; reason?: string } | undefined {
  try {
    const addon = loadAddon();
    const buffers = [new ArrayBuffer(64 * RECORD_SIZE), new ArrayBuffer(64 * RECORD_SIZE)];
    const nvml = probeFamilies().find((f) => f.source === 'nvml')!.name;
    const s = addon.open({ families: [nvml], buffers, onBatch: () => {}, paused: true, gpu: nvmlLibrary ? { nvmlLibrary } : undefined });
    try {
      const st = s.status().find((f) => f.family === nvml);
      if (!st) return undefined;
      return st.loaded ? { loaded: true } : { loaded: false, reason: st.error ?? 'not loaded' };
    } finally {
      s.stop();
    }
  } catch (e) {
    const msg = (e as Error).message;
    // an addon without the gpu family: fall back to looking for the library
    return /unknown.*famil|gpu/i.test(msg) && !/NVML/.test(msg) ? undefined : { loaded: false, reason: msg.split('\n')[0] };
  }
}

export function checkNvml(nvmlLibrary?: string): Check {
  const base = { id: 'nvml', title: 'NVML (NVIDIA GPU telemetry)' };
  const lib = findNvml();
  const driver = fs.existsSync('/proc/driver/nvidia/version');
  const devices = fs.existsSync('/dev') ? fs.readdirSync('/dev').filter((d) => /^nvidia\d+$/.test(d)).length : 0;
  const probed = probeNvml(nvmlLibrary);
  if (probed?.loaded || (!probed && lib && driver))
    return {
      ...base,
      status: 'ok',
      detail: `${probed?.loaded ? 'NVML loaded' : lib}; ${driver ? 'driver loaded' : 'no /proc/driver/nvidia'}; ${devices} GPU device node(s)`,
      fix: NOTHING,
    };
  const reasons: string[] = [];
  if (probed?.reason) reasons.push(probed.reason);
  if (!lib && !probed?.reason) reasons.push('libnvidia-ml.so.1 not found');
  if (!driver) reasons.push('no NVIDIA kernel driver loaded (/proc/driver/nvidia/version missing)');
  if (!devices) reasons.push('no /dev/nvidiaN device');
  return {
    ...base,
    status: 'unavailable',
    detail: `${reasons.join('; ')}: GPU scenes (Xid, GPU OOM, throttling) are off; everything else works`,
    fix: 'on a GPU node install the NVIDIA driver (it ships libnvidia-ml.so.1); in a container use the NVIDIA container toolkit with NVIDIA_DRIVER_CAPABILITIES=utility',
  };
}

export function checkRules(dir: string): Check {
  const base = { id: 'rules', title: `rules (${dir})` };
  try {
    const r = loadRuleDir(dir);
    if (r.errors.length)
      return {
        ...base,
        status: 'fail',
        detail: r.errors
          .slice(0, 5)
          .map((e) => e.toString())
          .join('\n'),
        fix: `fix the rule files (xctl rules check ${dir}); the agent refuses to start without a valid set`,
      };
    if (!r.ruleCount)
      return {
        ...base,
        status: 'fail',
        detail: 'no rules found',
        fix: `point rules: / --rules at a directory of rule YAML files (default: the package's rules/)`,
      };
    return { ...base, status: 'ok', detail: `${r.ruleCount} rules in ${r.files.length} files`, fix: NOTHING };
  } catch (e) {
    return { ...base, status: 'fail', detail: (e as Error).message, fix: `check ${dir} exists and is readable` };
  }
}

function nearestExisting(p: string): string {
  let d = path.resolve(p);
  while (!fs.existsSync(d) && path.dirname(d) !== d) d = path.dirname(d);
  return d;
}

function writable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.W_OK | fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export async function checkSocket(socketPath: string): Promise<Check> {
  const base = { id: 'socket', title: `agent socket (${socketPath})` };
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(socketPath);
  } catch {
    /* absent */
  }
  if (st) {
    if (!st.isSocket())
      return { ...base, status: 'fail', detail: 'exists and is not a socket', fix: `remove ${socketPath} or choose another --socket` };
    const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
    const connected = await new Promise<string | null>((resolve) => {
      const c = net.connect(socketPath);
      const done = (result: string | null) => {
        clearTimeout(t);
        c.destroy();
        resolve(result);
      };
      const t = setTimeout(() => done('timed out'), 1000);
      c.once('connect', () => done(null));
      c.once('error', (e) => done((e as Error).message));
    });
    if (connected === null)
      return { ...base, status: 'ok', detail: `agent listening; mode ${mode}, owner ${st.uid}:${st.gid}`, fix: NOTHING };
    if (/EACCES|EPERM/.test(connected))
      return {
        ...base,
        status: 'fail',
        detail: `mode ${mode}, owner ${st.uid}:${st.gid}: ${connected}`,
        fix: `run the CLI as root or as a member of group ${st.gid} (the agent creates the socket 0660)`,
      };
    return {
      ...base,
      status: 'warn',
      detail: `stale socket (${connected}): no agent is running`,
      fix: 'start the agent: systemctl start xctl-agent (or xctl agent)',
    };
  }
  const dir = path.dirname(socketPath);
  const parent = nearestExisting(dir);
  if (writable(parent))
    return {
      ...base,
      status: 'warn',
      detail: `no agent running; ${dir} ${parent === dir ? 'is writable' : `can be created under ${parent}`}`,
      fix: 'start the agent: systemctl start xctl-agent (or xctl agent)',
    };
  return {
    ...base,
    status: 'fail',
    detail: `no agent running, and ${parent} is not writable by this user: the agent could not create its socket`,
    fix: `run the agent as root, or point --socket / XCTL_SOCKET at a writable directory`,
  };
}

export function checkStateDir(dir: string, minFreeBytes = 64 * 1024 * 1024): Check {
  const base = { id: 'state_dir', title: `state directory (${dir})` };
  const at = nearestExisting(dir);
  if (!writable(at))
    return {
      ...base,
      status: 'fail',
      detail: `${at === dir ? dir : `${dir} does not exist and ${at}`} is not writable by this user: crash reports cannot be written`,
      fix: `run as root, or set state_dir / XCTL_STATE_DIR to a writable directory (systemd: StateDirectory=xctl)`,
    };
  let free = Infinity;
  try {
    const s = fs.statfsSync(at);
    free = s.bavail * s.bsize;
  } catch {
    /* unknown */
  }
  if (free < minFreeBytes)
    return {
      ...base,
      status: 'fail',
      detail: `${formatBytes(free)} free on the file system of ${at}; want ≥ ${formatBytes(minFreeBytes)}`,
      fix: `free disk space or move state_dir`,
    };
  return {
    ...base,
    status: 'ok',
    detail: `${at === dir ? 'writable' : `will be created under ${at}`}; ${Number.isFinite(free) ? formatBytes(free) : '?'} free`,
    fix: NOTHING,
  };
}

export function checkMetricsAddr(addr: string): Check {
  const base = { id: 'metrics_addr', title: `metrics endpoint (${addr})` };
  if (addr === 'off')
    return {
      ...base,
      status: 'warn',
      detail: 'disabled: no /metrics, /healthz or /readyz',
      fix: 'set metrics_addr (default 127.0.0.1:9464)',
    };
  try {
    const { host } = parseListenAddr(addr);
    const loop = host === 'localhost' || host === '::1' || host.startsWith('127.');
    return loop
      ? { ...base, status: 'ok', detail: 'loopback only', fix: NOTHING }
      : {
          ...base,
          status: 'ok',
          detail: `listening beyond loopback (${host}): an explicit opt-in; restrict it with a firewall or NetworkPolicy`,
          fix: NOTHING,
        };
  } catch (e) {
    return { ...base, status: 'fail', detail: (e as Error).message, fix: 'metrics_addr must be HOST:PORT or off' };
  }
}

export function checkBpfStats(want: boolean): Check {
  const base = { id: 'bpf_stats', title: 'in-kernel cost accounting (kernel.bpf_stats_enabled)' };
  let v = '?';
  try {
    v = fs.readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim();
  } catch {
    /* old kernel */
  }
  if (v === '1') return { ...base, status: 'ok', detail: 'enabled: xctl_bpf_program_run_time_seconds_total is exported', fix: NOTHING };
  return {
    ...base,
    status: want ? 'warn' : 'ok',
    detail: `kernel.bpf_stats_enabled=${v}: per-program run time and run counts read 0${want ? ' although probes.bpf_stats is on (the agent sets it at start, as root)' : ' (probes.bpf_stats is off, by choice)'}`,
    fix: want ? 'run the agent as root, or: sysctl -w kernel.bpf_stats_enabled=1' : NOTHING,
  };
}

export interface DoctorOptions {
  config: EffectiveConfig;
  configError?: string;
  configFile?: string;
}

export async function runDoctor(opts: DoctorOptions): Promise<Check[]> {
  const c = opts.config;
  const checks: Check[] = [];
  checks.push(
    opts.configError
      ? {
          id: 'config',
          title: 'configuration',
          status: 'fail',
          detail: opts.configError,
          fix: 'fix the file (xctl config validate FILE); defaults were used for the other checks',
        }
      : {
          id: 'config',
          title: 'configuration',
          status: 'ok',
          detail: opts.configFile ? `${opts.configFile} is valid` : 'no config file; defaults and environment',
          fix: NOTHING,
        },
  );
  checks.push(checkKernel(), checkBtf(), ...checkCapabilities(), ...checkMounts());
  checks.push(...checkProbes(c.families));
  checks.push(
    checkNvml(c.gpu?.nvmlLibrary),
    checkRules(c.rules),
    await checkSocket(c.socket),
    checkStateDir(c.stateDir),
    checkMetricsAddr(c.metricsAddr),
    checkBpfStats(c.bpfStats),
  );
  return checks;
}
