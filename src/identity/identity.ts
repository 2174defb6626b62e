/**
 * The identity of one process: its cgroup path and what that path's shape
 * says (container, pod, slurm), the names the container runtime wrote on the
 * node, and its rank from its environment. Resolved off the hot path (see
 * resolver.ts), from /proc and the runtime's files; never from an API server.
 *
 * JSON (why, ps, events --json, fix plans): container {runtime, id, name},
 * pod {uid, namespace, name, qos}, slurm {job, step}, rank {rank, local_rank,
 * world_size, job}; a part absent is not known. `identity` says 'resolved',
 * or 'gone' when the process exited (or its pid was reused) before it was
 * looked up; `identity_notes` says why any part is unknown.
 */
import { readText } from '../procfs/read';
import { parseCgroups } from '../procfs/parse';
import { readProcIdentity, sameStart } from '../procfs/process';
import { identityFromCgroups, type Qos, type Runtime } from './cgroup-shapes';
import { readEnviron } from './environ';
import { DEFAULT_JOB_SOURCES, identityEnvKeys, rankFromEnviron, slurmFromEnviron, type JobSource, type RankIdentity } from './rank';
import { namesFromRuntimeFiles, type RuntimeNames } from './runtime-files';

export interface ContainerIdentity {
  runtime: Runtime;
  id: string;
  name?: string;
}
export interface PodIdentity {
  uid: string;
  namespace?: string;
  name?: string;
  qos?: Qos;
}
export interface SlurmIdentity {
  job: string;
  step?: string;
}

export interface Identity {
  identity: 'resolved' | 'gone';
  cgroup?: string;
  container?: ContainerIdentity;
  pod?: PodIdentity;
  slurm?: SlurmIdentity;
  rank?: RankIdentity;
  identity_notes?: string[];
}

export interface ResolveOptions {
  procRoot?: string;
  /** where the node's /run and /var/lib are (config identity.host_root) */
  hostRoot?: string;
  jobSources?: readonly JobSource[];
  names?: NameCache;
}

/**
 * Container names by container id, bounded (oldest dropped first). Complete
 * answers are kept; incomplete ones (no file yet, malformed) are re-read after
 * `retryMs`.
 */
export class NameCache {
  private readonly m = new Map<string, { names: RuntimeNames; atMs: number }>();
  reads = 0;
  constructor(
    readonly max = 4096,
    readonly retryMs = 30_000,
  ) {}

  get(id: string, runtime: Runtime, hostRoot: string, nowMs = Date.now()): RuntimeNames {
    const hit = this.m.get(id);
    if (hit && (hit.names.name !== undefined || nowMs - hit.atMs < this.retryMs)) return hit.names;
    this.reads++;
    const names = namesFromRuntimeFiles(id, runtime, hostRoot);
    this.m.delete(id);
    this.m.set(id, { names, atMs: nowMs });
    if (this.m.size > this.max) this.m.delete(this.m.keys().next().value!);
    return names;
  }

  get size(): number {
    return this.m.size;
  }
}

const defaultNames = new NameCache();
/** the note that starts with this: the process exited between its cgroup and its environment */
export const ENVIRON_GONE = 'environ: the process exited';
const keysBySources = new WeakMap<readonly JobSource[], Set<string>>();

/** The cgroup part only (cgroup file text -> identity), for callers that have the text. */
export function identityFromCgroupText(text: string | undefined, opts: ResolveOptions = {}): Omit<Identity, 'identity'> {
  const cg = identityFromCgroups(parseCgroups(text));
  const out: Omit<Identity, 'identity'> = {};
  const notes: string[] = [];
  if (cg.cgroup) out.cgroup = cg.cgroup;
  if (cg.pod) out.pod = { uid: cg.pod.uid, qos: cg.pod.qos };
  if (cg.slurm) out.slurm = { ...cg.slurm };
  if (cg.container) {
    const names = (opts.names ?? defaultNames).get(cg.container.id, cg.container.runtime, opts.hostRoot ?? '/');
    out.container = { runtime: names.runtime ?? cg.container.runtime, id: cg.container.id };
    if (names.name) out.container.name = names.name;
    if (names.pod) {
      out.pod ??= { uid: names.pod.uid ?? 'unknown' };
      if (names.pod.namespace) out.pod.namespace = names.pod.namespace;
      if (names.pod.name) out.pod.name = names.pod.name;
    }
    if (names.note) notes.push(`names: ${names.note}`);
  }
  if (notes.length) out.identity_notes = notes;
  return out;
}

/**
 * Resolves pid's identity now. `startNs` (boot ns; 0 unknown) guards against a
 * reused pid: a different start time is 'gone', as is a pid with no /proc entry.
 */
export function resolveProcess(pid: number, startNs: number, opts: ResolveOptions = {}): Identity {
  const proc = opts.procRoot ?? '/proc';
  const id = proc === '/proc' ? readProcIdentity(pid) : null;
  if (proc === '/proc' && (!id || (startNs !== 0 && !sameStart(BigInt(Math.round(startNs)), id.startNs))))
    return { identity: 'gone', identity_notes: [`process ${pid} exited before its identity was read`] };
  const cgText = readText(`${proc}/${pid}/cgroup`);
  if (cgText === undefined) return { identity: 'gone', identity_notes: [`process ${pid} exited before its identity was read`] };
  const out: Identity = { identity: 'resolved', ...identityFromCgroupText(cgText, opts) };
  const notes = out.identity_notes ?? [];
  const sources = opts.jobSources ?? DEFAULT_JOB_SOURCES;
  let keys = keysBySources.get(sources);
  if (!keys) keysBySources.set(sources, (keys = identityEnvKeys(sources)));
  const env = readEnviron(pid, { keys, procRoot: proc });
  if ('env' in env) {
    const rank = rankFromEnviron(env.env, sources);
    if (rank) out.rank = rank;
    if (!out.slurm) {
      const s = slurmFromEnviron(env.env);
      if (s) out.slurm = s;
    } else if (!out.slurm.step) {
      const s = slurmFromEnviron(env.env);
      if (s?.job === out.slurm.job && s.step) out.slurm.step = s.step;
    }
  } else if (env.unknown === 'gone') {
    notes.push(`${ENVIRON_GONE} before its environment was read (rank unknown)`);
  } else {
    notes.push(`environ ${env.unknown}: rank unknown (${env.detail})`);
  }
  if (notes.length) out.identity_notes = notes;
  else delete out.identity_notes;
  return out;
}

/** One line for text output: "pod ml/llama-0 (uid …, burstable) · container trainer (containerd 4f2a3c1b9e8d) · rank 3/8 of job llama". */
export function identityLine(i: Partial<Identity> | undefined): string | undefined {
  if (!i) return undefined;
  const parts: string[] = [];
  if (i.pod) parts.push(`pod ${i.pod.namespace ?? '?'}/${i.pod.name ?? 'unknown'} (uid ${i.pod.uid}${i.pod.qos ? `, ${i.pod.qos}` : ''})`);
  if (i.container) parts.push(`container ${i.container.name ?? 'name unknown'} (${i.container.runtime} ${i.container.id.slice(0, 12)})`);
  if (i.slurm) parts.push(`slurm job ${i.slurm.job}${i.slurm.step !== undefined ? ` step ${i.slurm.step}` : ''}`);
  if (i.rank)
    parts.push(
      `rank ${i.rank.rank}${i.rank.world_size !== undefined ? `/${i.rank.world_size}` : ''}${i.rank.local_rank !== undefined ? ` (local ${i.rank.local_rank})` : ''} of job ${i.rank.job}`,
    );
  if (i.identity === 'gone') parts.push('identity gone (exited before it was read)');
  else if (!parts.length && i.cgroup) parts.push(`cgroup ${i.cgroup}`);
  return parts.length ? parts.join(' · ') : undefined;
}

/** The identity fields of an answer (container, pod, slurm, rank, cgroup, identity, identity_notes), nothing when unknown. */
export function identityFields(i: Identity | undefined): Partial<Identity> {
  if (!i) return {};
  const out: Partial<Identity> = { identity: i.identity };
  if (i.cgroup !== undefined) out.cgroup = i.cgroup;
  if (i.container) out.container = i.container;
  if (i.pod) out.pod = i.pod;
  if (i.slurm) out.slurm = i.slurm;
  if (i.rank) out.rank = i.rank;
  if (i.identity_notes?.length) out.identity_notes = i.identity_notes;
  return out;
}
