/**
 * The training ranks on this node, for the per-rank series (xctl_rank_*):
 * processes that called NCCL and whose identity (the pipeline's resolver,
 * src/identity, off the ingest path) names a rank. Progress comes from the
 * counters the nccl_call ingest keeps on the process node; the finding is the
 * one `why` gives.
 */
import type { Pipeline } from '../engine/pipeline';
import type { RankSample } from '../ops/metrics';
import { answerWhy } from '../why/why';

/** in-flight reports come once a second while a collective waits: older than this, it returned unseen */
const INFLIGHT_FRESH_NS = 3e9;

export class RankTable {
  constructor(private readonly pipeline: Pipeline) {}

  /** Processes with NCCL activity that are ranks, with progress and top finding. */
  samples(): RankSample[] {
    const p = this.pipeline;
    const nowNs = p.nowNs();
    const wallS = Date.now() / 1e3;
    const toWall = (ns: number) => Math.round((wallS - (nowNs - ns) / 1e9) * 1e3) / 1e3;
    const out: RankSample[] = [];
    for (const proc of p.graph.procs.values()) {
      if (proc.state === 'exited' || proc.kthread || (proc.ncclCompleted === 0 && !proc.ncclInflight)) continue;
      const id = p.identityOf(proc);
      const rank = id?.rank;
      if (!rank) continue;
      const pod = id.pod ? (id.pod.name ? `${id.pod.namespace ?? ''}/${id.pod.name}` : id.pod.uid) : undefined;
      const s: RankSample = {
        job: rank.job,
        rank: rank.rank,
        worldSize: rank.world_size,
        pid: proc.pid,
        pod,
        container: id.container ? (id.container.name ?? id.container.id.slice(0, 12)) : undefined,
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
}
