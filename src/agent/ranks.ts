/**
 * The training ranks on this node, for the per-rank series (xctl_rank_*):
 * processes that called NCCL and whose environment names a rank. Identity is
 * read once per process incarnation (environ and cgroup, off the ingest path)
 * and kept beside the graph node; progress comes from the counters the
 * nccl_call ingest keeps on the node; the finding is the one `why` gives.
 */
import * as fs from 'node:fs';
import type { Pipeline } from '../engine/pipeline';
import type { ProcessNode } from '../graph/model';
import { readEnviron } from '../identity/environ';
import { DEFAULT_JOB_SOURCES, identityEnvKeys, rankFromEnviron, type JobSource, type RankIdentity } from '../identity/rank';
import { identityFromCgroups } from '../identity/cgroup-shapes';
import { parseCgroups } from '../procfs/parse';
import type { RankSample } from '../ops/metrics';
import { answerWhy } from '../why/why';

/** in-flight reports come once a second while a collective waits: older than this, it returned unseen */
const INFLIGHT_FRESH_NS = 3e9;

interface Known {
  rank: RankIdentity | undefined;
  pod?: string;
  container?: string;
}

export class RankTable {
  private readonly known = new WeakMap<ProcessNode, Known>();
  private readonly keys: Set<string>;

  constructor(
    private readonly pipeline: Pipeline,
    private readonly jobSources: readonly JobSource[] = DEFAULT_JOB_SOURCES,
    private readonly procRoot = '/proc',
  ) {
    this.keys = identityEnvKeys(jobSources);
  }

  /** Processes with NCCL activity that are ranks, with progress and top finding. */
  samples(): RankSample[] {
    const p = this.pipeline;
    const nowNs = p.nowNs();
    const wallS = Date.now() / 1e3;
    const toWall = (ns: number) => Math.round((wallS - (nowNs - ns) / 1e9) * 1e3) / 1e3;
    const out: RankSample[] = [];
    for (const proc of p.graph.procs.values()) {
      if (proc.state === 'exited' || proc.kthread || (proc.ncclCompleted === 0 && !proc.ncclInflight)) continue;
      const id = this.identify(proc);
      if (!id.rank) continue;
      const s: RankSample = {
        job: id.rank.job,
        rank: id.rank.rank,
        worldSize: id.rank.world_size,
        pid: proc.pid,
        pod: id.pod,
        container: id.container,
        comms: proc.ncclCommCompleted ? [...proc.ncclCommCompleted] : [],
      };
      const inf = proc.ncclInflight;
      if (proc.ncclInflightOpen && inf && nowNs - inf.tNs <= INFLIGHT_FRESH_NS)
        s.inflight = { fn: inf.fn, sinceS: toWall(inf.tNs - inf.ns) };
      if (proc.ncclLastExitNs) s.lastCompletionS = toWall(proc.ncclLastExitNs);
      if (p.matcher.active.has(proc.id)) {
        try {
          const a = answerWhy(p, proc.pid);
          // the cause is the rank itself (stopped, killed): blame what blocked it, the chain's last link
          const last = a.chain[a.chain.length - 1];
          const culprit = a.culprit?.id === proc.id && last?.edge === 'blocked_by' ? last.to : a.culprit;
          if (a.scene !== 'healthy')
            s.finding = {
              scene: a.scene,
              rule: a.findings[0]?.rule ?? '',
              culpritKind: culprit?.type ?? 'process',
              culprit: culprit?.label ?? proc.label(),
              confidence: a.confidence,
            };
        } catch {
          /* gone between the scan and the answer */
        }
      }
      out.push(s);
    }
    return out;
  }

  private identify(proc: ProcessNode): Known {
    let k = this.known.get(proc);
    if (k) return k;
    const env = readEnviron(proc.pid, { keys: this.keys, procRoot: this.procRoot });
    k = { rank: 'env' in env ? rankFromEnviron(env.env, this.jobSources) : undefined };
    if (k.rank) {
      try {
        const c = identityFromCgroups(parseCgroups(fs.readFileSync(`${this.procRoot}/${proc.pid}/cgroup`, 'utf8')));
        if (c.pod) k.pod = c.pod.uid;
        if (c.container) k.container = c.container.id.slice(0, 12);
      } catch {
        /* exited */
      }
    }
    // a process that could not be read now (gone) is asked again next time
    if ('env' in env) this.known.set(proc, k);
    return k;
  }
}
