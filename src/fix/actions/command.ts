/**
 * What an executable step does, in the words of a shell command, made from
 * the same params (and the same normalisation) its runner applies: a plan's
 * text and the applied action cannot disagree.
 */
import type { PlanStep } from '../plan';

type Params = PlanStep['params'];

/** The nice value renice applies: params.nice (default 19) clamped to -20..19. */
export function niceOf(params: Params): number {
  const n = Number(params.nice ?? 19);
  return Number.isFinite(n) ? Math.max(-20, Math.min(19, Math.round(n))) : 19;
}

export const CPU_PERIOD_US = 100_000;

/** The CFS quota cgroup_cpu_limit writes for params.cpus (default 1) per CPU_PERIOD_US. */
export function cpuQuotaOf(params: Params): { cpus: number; quota: number } {
  const cpus = Number(params.cpus ?? 1);
  return { cpus, quota: Math.max(1000, Math.round(cpus * CPU_PERIOD_US)) };
}

/** The command a step runs, or undefined for steps that run none (manual, a restore). */
export function commandOf(step: Pick<PlanStep, 'action' | 'target' | 'params'>): string | undefined {
  const p = step.params;
  const pid = step.target.pid;
  switch (step.action) {
    case 'renice':
      return `renice -n ${niceOf(p)} -p ${pid}`;
    case 'cgroup_cpu_limit': {
      const { cpus, quota } = cpuQuotaOf(p);
      return `move ${pid} to cgroup xctl-limit-${pid} with cpu.max "${quota} ${CPU_PERIOD_US}" (${cpus} CPU)`;
    }
    case 'cgroup_io_limit': {
      const bps = Number(p.bps ?? 10 << 20);
      return `move ${pid} to cgroup xctl-limit-${pid} with io.max "${String(p.device ?? '?')} rbps=${bps} wbps=${bps}"`;
    }
    case 'ionice':
      return `ionice -c ${String(p.class ?? '3')} -p ${pid}`;
    case 'sigcont':
      return `kill -CONT ${pid}`;
    case 'signal':
      return `kill -${String(p.signal ?? '?').replace(/^SIG/i, '')} ${pid}`;
    case 'terminate':
      return `kill -TERM ${p.launcher === true || p.launcher === 'true' ? `<parent of ${pid}>` : pid}, then kill -KILL after ${Number(p.grace_s ?? 10)} s`;
    case 'checkpoint':
      return p.op === 'restore' ? undefined : `kill -${String(p.signal ?? 'USR1').replace(/^SIG/i, '')} ${pid} (only if it handles it)`;
    case 'drop_caches':
      return 'sync; echo 1 > /proc/sys/vm/drop_caches';
    case 'gpu_reset':
      return `nvidia-smi --gpu-reset -i ${String(p.gpu ?? step.target.id.replace(/^gpu:/, ''))}`;
    case 'cordon_node':
      return `cordon node ${step.target.id}${p.taint ? ` with taint ${String(p.taint)}=xctl:NoSchedule` : ''}`;
    default:
      return undefined;
  }
}
