/**
 * What a `why` query answers, as plain data: the agent sends it over the
 * socket, `analyze` prints it, fix plans are built from it. Nodes appear as
 * references (type, id, label), never as live graph objects.
 */
import type { VerifySpec } from '../rules/scenes';
import type { Identity } from '../identity/identity';

/** Who the process is (container, pod, slurm, rank, cgroup; see src/identity/identity.ts): all optional. */
export type IdentityFields = Partial<Identity>;

export interface NodeRef {
  type: string;
  id: string;
  label: string;
}

export interface LinkEvidence {
  count: number;
  sum: number;
  max: number;
  unit: string;
  first_ts_ns: number;
  last_ts_ns: number;
  /** how long ago the newest evidence is, seconds */
  age_s: number;
  window_s: number;
  in_window: { count: number; sum: number };
  source: 'ebpf' | 'procfs';
  note?: string;
  text: string;
}

export interface ChainLink {
  from: NodeRef;
  to: NodeRef;
  edge: string;
  evidence: LinkEvidence;
}

/** An action as data: targets are plain references, never live graph nodes. */
export interface FindingAction {
  type: string;
  text?: string;
  target_spec: string;
  target: NodeRef;
  params: Record<string, string | number | boolean>;
}

export interface FindingEvidence {
  leaf: string;
  value: number | string | boolean | undefined;
  entity: NodeRef;
}

export interface Finding {
  scene: string;
  rule: string;
  confidence: number;
  score: number;
  summary: string;
  culprit: NodeRef;
  chain: ChainLink[];
  actions: FindingAction[];
  evidence: FindingEvidence[];
  /** what a fix plan verifies, as the rule (or its scene) declares it */
  verify?: VerifySpec;
}

export interface WhyAnswer extends IdentityFields {
  pid: number;
  comm: string;
  start_ns: number;
  state: string;
  scene: string;
  confidence: number;
  summary: string;
  culprit?: NodeRef;
  chain: ChainLink[];
  actions: FindingAction[];
  findings: Finding[];
  dropped_events: number;
  /** set when the CPU governor raised the per-event thresholds in the window (totals stay exact) */
  detail_reduced?: string;
  window_s: number;
  answered_in_ms: number;
}

/** One line of `xctl ps`. */
export interface PsRow extends IdentityFields {
  pid: number;
  comm: string;
  state: string;
  start_ns: number;
  last_seen_s: number;
  scene: string;
  summary: string;
  score: number;
}

/** `why pod/…|container/…|job/…`: the answers for the selected processes with findings, and the rest listed. */
export interface WhySelection {
  selector: string;
  /** processes looked at: the graph's (running and exited within the grace period) and, live, /proc's */
  searched: number;
  answers: WhyAnswer[];
  /** selected processes without a finding (or past the answer limit) */
  others: PsRow[];
}
