/**
 * Checks, before loading any BPF, the things whose absence gives obscure
 * kernel errors later: privileges, kernel BTF, tracefs. Each problem names
 * what is wrong and what to do about it.
 */
import * as fs from 'node:fs';
import { execFileSync } from 'node:child_process';

export class PreflightError extends Error {
  override name = 'PreflightError';
}

const CAP_SYS_ADMIN = 21;
const CAP_PERFMON = 38;
const CAP_BPF = 39;

export function effectiveCaps(statusText = fs.readFileSync('/proc/self/status', 'latin1')): bigint {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(statusText);
  return m ? BigInt('0x' + m[1]) : 0n;
}

function hasCap(caps: bigint, cap: number): boolean {
  return (caps & (1n << BigInt(cap))) !== 0n;
}

export interface PreflightReport {
  notes: string[]; // things we fixed or that degrade results, for the log
}

/** Throws PreflightError when live probing cannot work at all. */
export function preflight(opts: { mountTracefs?: boolean } = {}): PreflightReport {
  const notes: string[] = [];
  const caps = effectiveCaps();
  const missing: string[] = [];
  if (!hasCap(caps, CAP_BPF) && !hasCap(caps, CAP_SYS_ADMIN)) missing.push('CAP_BPF');
  if (!hasCap(caps, CAP_PERFMON) && !hasCap(caps, CAP_SYS_ADMIN)) missing.push('CAP_PERFMON');
  if (missing.length) {
    const who = process.getuid?.() === 0 ? 'root without ' : 'not root: missing ';
    throw new PreflightError(
      `xctl: live probing needs root (or ${missing.join(' + ')}); this process is ${who}${missing.join(', ')}. ` +
        'Run with sudo, or grant the capabilities (container: --cap-add BPF --cap-add PERFMON --cap-add SYS_ADMIN).',
    );
  }
  if (!fs.existsSync('/sys/kernel/btf/vmlinux')) {
    throw new PreflightError(
      'xctl: kernel BTF missing (/sys/kernel/btf/vmlinux): CO-RE probes need a kernel built with ' +
        'CONFIG_DEBUG_INFO_BTF=y (in a container, mount the host /sys/kernel/btf read-only).',
    );
  }
  if (!isMounted('/sys/kernel/tracing')) {
    // Our tp_btf/raw_tp programs attach without tracefs, but classic tp/ programs,
    // bpftrace cross-checks and `xctl doctor` want it.
    if (opts.mountTracefs !== false && tryMountTracefs()) {
      notes.push('mounted tracefs at /sys/kernel/tracing (it was not mounted)');
    } else {
      notes.push('tracefs is not mounted at /sys/kernel/tracing: run `mount -t tracefs nodev /sys/kernel/tracing`');
    }
  }
  return { notes };
}

function isMounted(dir: string): boolean {
  try {
    return fs.readFileSync('/proc/self/mounts', 'latin1').split('\n').some((l) => l.split(' ')[1] === dir);
  } catch {
    return false;
  }
}

function tryMountTracefs(): boolean {
  try {
    execFileSync('mount', ['-t', 'tracefs', 'nodev', '/sys/kernel/tracing'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
