/**
 * Training identity from a process's environment (read once per exec, see
 * environ.ts): which rank of which job a process is.
 *
 * rank:        RANK (torchrun, torch.distributed) > OMPI_COMM_WORLD_RANK (Open MPI)
 *              > PMI_RANK (MPICH, Intel MPI) > SLURM_PROCID (srun)
 * local_rank:  LOCAL_RANK > OMPI_COMM_WORLD_LOCAL_RANK > MPI_LOCALRANKID > SLURM_LOCALID
 * world_size:  WORLD_SIZE > OMPI_COMM_WORLD_SIZE > PMI_SIZE > SLURM_NTASKS
 * group_rank:  GROUP_RANK (torchelastic: the node's rank among the job's nodes)
 * job:         the first present entry of the job precedence, by default
 *              TORCHELASTIC_RUN_ID > SLURM_JOB_ID > MASTER_ADDR:MASTER_PORT
 *              (an entry "A:B" joins the values of A and B with ':' and needs
 *              both). TORCHELASTIC_RUN_ID "none" (torchrun without --rdzv-id)
 *              does not name a job. The precedence is the config key
 *              identity.job_vars, e.g. "MY_JOB_ID,SLURM_JOB_ID".
 *              No entry present: job "unknown".
 * No rank variable at all: not a rank (undefined), whatever else is set.
 */
import { UserError } from '../errors';

export interface RankIdentity {
  rank: number;
  local_rank?: number;
  world_size?: number;
  /** torchelastic GROUP_RANK: this node's rank within the job */
  group_rank?: number;
  job: string;
}

/** A job precedence entry: the variables whose values, joined with ':', name the job. */
export type JobSource = readonly string[];

export const DEFAULT_JOB_VARS = 'TORCHELASTIC_RUN_ID,SLURM_JOB_ID,MASTER_ADDR:MASTER_PORT';

const RANK_VARS = ['RANK', 'OMPI_COMM_WORLD_RANK', 'PMI_RANK', 'SLURM_PROCID'] as const;
const LOCAL_RANK_VARS = ['LOCAL_RANK', 'OMPI_COMM_WORLD_LOCAL_RANK', 'MPI_LOCALRANKID', 'SLURM_LOCALID'] as const;
const WORLD_SIZE_VARS = ['WORLD_SIZE', 'OMPI_COMM_WORLD_SIZE', 'PMI_SIZE', 'SLURM_NTASKS'] as const;
/** Slurm variables read beside the rank ones (see slurmFromEnviron). */
const SLURM_VARS = ['SLURM_JOB_ID', 'SLURM_STEP_ID'] as const;

export class JobVarsError extends UserError {
  override name = 'JobVarsError';
}

/** "A,B:C" => [[A],[B,C]]; names are environment variable names. */
export function parseJobVars(text: string): JobSource[] {
  const out: JobSource[] = [];
  for (const entry of text.split(',')) {
    const e = entry.trim();
    if (!e) continue;
    const names = e.split(':').map((s) => s.trim());
    for (const n of names)
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(n)) throw new JobVarsError(`identity.job_vars: "${n}" is not a variable name`);
    out.push(names);
  }
  if (out.length === 0) throw new JobVarsError('identity.job_vars: no variable named');
  return out;
}

export const DEFAULT_JOB_SOURCES: readonly JobSource[] = parseJobVars(DEFAULT_JOB_VARS);

/** Every variable rankFromEnviron and slurmFromEnviron read, for readEnviron's `keys`. */
export function identityEnvKeys(jobSources: readonly JobSource[] = DEFAULT_JOB_SOURCES): Set<string> {
  return new Set([...RANK_VARS, ...LOCAL_RANK_VARS, ...WORLD_SIZE_VARS, 'GROUP_RANK', ...SLURM_VARS, ...jobSources.flat()]);
}

/** A non-negative decimal integer, else undefined ("", "-1", "1.5", "0x2" are not ranks). */
function intVar(env: ReadonlyMap<string, string>, names: readonly string[]): number | undefined {
  for (const n of names) {
    const v = env.get(n)?.trim();
    if (v === undefined || v === '') continue;
    if (/^\d{1,9}$/.test(v)) return Number(v);
  }
  return undefined;
}

/** The job id by the precedence, or undefined when no entry is fully present. */
export function jobFromEnviron(
  env: ReadonlyMap<string, string>,
  jobSources: readonly JobSource[] = DEFAULT_JOB_SOURCES,
): string | undefined {
  for (const src of jobSources) {
    const vals = src.map((n) => env.get(n)?.trim());
    if (vals.some((v) => !v)) continue;
    if (src.length === 1 && src[0] === 'TORCHELASTIC_RUN_ID' && vals[0] === 'none') continue;
    return vals.join(':');
  }
  return undefined;
}

export function rankFromEnviron(
  env: ReadonlyMap<string, string>,
  jobSources: readonly JobSource[] = DEFAULT_JOB_SOURCES,
): RankIdentity | undefined {
  const rank = intVar(env, RANK_VARS);
  if (rank === undefined) return undefined;
  const out: RankIdentity = { rank, job: jobFromEnviron(env, jobSources) ?? 'unknown' };
  const local = intVar(env, LOCAL_RANK_VARS);
  if (local !== undefined) out.local_rank = local;
  const world = intVar(env, WORLD_SIZE_VARS);
  if (world !== undefined) out.world_size = world;
  const group = intVar(env, ['GROUP_RANK']);
  if (group !== undefined) out.group_rank = group;
  return out;
}

/** Slurm job (and step, when srun set it) from SLURM_JOB_ID / SLURM_STEP_ID. */
export function slurmFromEnviron(env: ReadonlyMap<string, string>): { job: string; step?: string } | undefined {
  const job = env.get('SLURM_JOB_ID')?.trim();
  if (!job || !/^\d+$/.test(job)) return undefined;
  const step = env.get('SLURM_STEP_ID')?.trim();
  return step ? { job, step } : { job };
}
