/**
 * Checks, before loading any BPF, the things whose absence gives obscure
 * kernel errors later: privileges, kernel BTF, tracefs. Each problem names
 * what is wrong and what to do about it. The primitives (capabilities, BTF,
 * mounts) are the ones `xctl doctor` reports on (src/ops/doctor.ts).
 */
import * as fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { UserError } from '../errors';

export class PreflightError extends UserError {
  override name = 'PreflightError';
}

export const CAP = { SYS_ADMIN: 21, PERFMON: 38, BPF: 39 } as const;
export const KERNEL_BTF = '/sys/kernel/btf/vmlinux';
export const TRACEFS_DIR = '/sys/kernel/tracing';

export function effectiveCaps(statusText = fs.readFileSync('/proc/self/status', 'latin1')): bigint {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(statusText);
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

export function hasCap(caps: bigint, cap: number): boolean {
  return (caps & (1n << BigInt(cap))) !== 0n;
}

/** What live probing lacks of CAP_BPF + CAP_PERFMON (CAP_SYS_ADMIN covers both). */
export function missingProbeCaps(caps: bigint): ('BPF' | 'PERFMON')[] {
  if (hasCap(caps, CAP.SYS_ADMIN)) return [];
  return (['BPF', 'PERFMON'] as const).filter((c) => !hasCap(caps, CAP[c]));
}

/** The file system type mounted at dir, or undefined. */
export function mountType(dir: string): string | undefined {
  try {
    for (const l of fs.readFileSync('/proc/self/mounts', 'latin1').split('\n')) {
      const f = l.split(' ');
      if (f[1] === dir) return f[2];
    }
  } catch {
    /* no procfs */
  }
  return undefined;
}

export interface PreflightReport {
  notes: string[]; // things we fixed or that degrade results, for the log
}

/** Throws PreflightError when live probing cannot work at all. */
export function preflight(opts: { mountTracefs?: boolean } = {}): PreflightReport {
  const notes: string[] = [];
  const caps = effectiveCaps();
  const missing = missingProbeCaps(caps).map((c) => `CAP_${c}`);
  if (missing.length) {
    const who = process.getuid?.() === 0 ? 'root without ' : 'not root: missing ';
    throw new PreflightError(
      `xctl: live probing needs root (or ${missing.join(' + ')}); this process is ${who}${missing.join(', ')}. ` +
        'Run with sudo, or grant the capabilities (container: --cap-add BPF --cap-add PERFMON --cap-add SYS_ADMIN).',
    );
  }
  if (!fs.existsSync(KERNEL_BTF)) {
    throw new PreflightError(
      'xctl: kernel BTF missing (/sys/kernel/btf/vmlinux): CO-RE probes need a kernel built with ' +
        'CONFIG_DEBUG_INFO_BTF=y (in a container, mount the host /sys/kernel/btf read-only).',
    );
  }
  if (mountType(TRACEFS_DIR) === undefined) {
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

function tryMountTracefs(): boolean {
  try {
    execFileSync('mount', ['-t', 'tracefs', 'nodev', TRACEFS_DIR], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
