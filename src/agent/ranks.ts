/**
 * The training ranks on this node, for the per-rank series (xctl_rank_*):
 * processes that called NCCL and whose identity (the pipeline's resolver,
 * src/identity, off the ingest path) names a rank. Progress comes from the
 * counters the nccl_call ingest keeps on the process node; the finding is the
 * best one `why` gives that is a cause of its own (not merely waiting in a
 * collective, unless that is all there is).
 */
import type { Pipeline } from '../engine/pipeline';
import type { RankSample } from '../ops/metrics';
import { answerWhy } from '../why/why';
import { VICTIM_SCENES } from '../fleet/straggler';

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
          // its local cause first: waiting in a collective (nccl_hang) is what a victim of a straggler shows too
          const f = a.findings.find((x) => !VICTIM_SCENES.has(x.scene)) ?? a.findings[0];
          if (f) {
            // the cause is the rank itself (stopped, killed): blame what blocked it, the chain's last link
            const last = f.chain[f.chain.length - 1];
            const culprit = f.culprit.id === proc.id && last?.edge === 'blocked_by' ? last.to : f.culprit;
            s.finding = { scene: f.scene, rule: f.rule, culpritKind: culprit.type, culprit: culprit.label, confidence: f.confidence };
          }
        } catch {
          /* gone between the scan and the answer */
        }
      }
      out.push(s);
    }
    return out;
  }
}
