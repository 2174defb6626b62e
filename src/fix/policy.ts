/**
 * Which actions may run: `allow` (runs on --apply), `ask` (runs only with an
 * explicit confirmation: --yes or an interactive "y"), `deny` (never). Plus a
 * rate limit per action type over a sliding window.
 */
import { ACTION_TYPES, type ActionType } from '../rules/vocabulary';

export type PolicyMode = 'allow' | 'ask' | 'deny';

export interface FixConfig {
  /** per action type; unlisted types use DEFAULT_POLICY */
  policy?: Partial<Record<string, PolicyMode>>;
  /** at most `max` executions of one action type per `windowS` seconds (default 10 per 60 s) */
  rateLimit?: { max: number; windowS: number };
  /** callers allowed to apply (SO_PEERCRED); default uid 0 only */
  allowedUids?: number[];
  allowedGids?: number[];
  /** Kubernetes API for cordon_node; unset = not configured */
  kubernetes?: { apiServer: string; tokenFile: string; caFile?: string; nodeName: string };
  /** periodic re-check of resolved plans (default 60 s; 0 disables) */
  recheckIntervalS?: number;
  /** audit log rotation: size of the current file (default 64 MiB) and rotated files kept (default 4) */
  auditMaxBytes?: number;
  auditKeep?: number;
  /** plans kept: at most this many (default 2000), none older than this (default 7 days) */
  planMax?: number;
  planMaxAgeS?: number;
  /** fix requests per minute from one uid that may not apply (default 10); more are refused without planning */
  refusedPerMinute?: number;
}

export const DEFAULT_POLICY: Record<ActionType, PolicyMode> = {
  manual: 'allow', // printed, never executed
  sigcont: 'allow',
  renice: 'allow',
  ionice: 'allow',
  cgroup_cpu_limit: 'ask',
  cgroup_io_limit: 'ask',
  checkpoint: 'ask',
  signal: 'ask',
  terminate: 'ask',
  drop_caches: 'ask',
  cordon_node: 'ask',
  gpu_reset: 'ask',
};

export function validatePolicy(p: Record<string, unknown>): string[] {
  const errs: string[] = [];
  for (const [k, v] of Object.entries(p)) {
    if (!(ACTION_TYPES as readonly string[]).includes(k)) errs.push(`unknown action type "${k}" (${ACTION_TYPES.join(', ')})`);
    if (v !== 'allow' && v !== 'ask' && v !== 'deny') errs.push(`policy for "${k}" must be allow, ask or deny, not "${String(v)}"`);
  }
  return errs;
}

export class Policy {
  private readonly history = new Map<string, number[]>();
  constructor(
    private readonly cfg: FixConfig = {},
    private readonly now: () => number = Date.now,
  ) {}

  mode(action: string): PolicyMode {
    return this.cfg.policy?.[action] ?? DEFAULT_POLICY[action as ActionType] ?? 'deny';
  }

  /** undefined when allowed to run now; else why not. Does not count the run (see record()). */
  check(action: string, confirmed: boolean): { code: 'denied' | 'needs_confirmation' | 'rate_limited'; message: string } | undefined {
    const mode = this.mode(action);
    if (mode === 'deny')
      return { code: 'denied', message: `action ${action} is denied by the agent's policy (fix.policy.${action}: deny)` };
    if (mode === 'ask' && !confirmed)
      return { code: 'needs_confirmation', message: `action ${action} needs confirmation: pass --yes (fix.policy.${action}: ask)` };
    const rl = this.cfg.rateLimit ?? { max: 10, windowS: 60 };
    const t = this.now();
    const h = (this.history.get(action) ?? []).filter((x) => t - x < rl.windowS * 1000);
    this.history.set(action, h);
    if (h.length >= rl.max) {
      return {
        code: 'rate_limited',
        message: `action ${action} is rate limited: ${h.length} runs in the last ${rl.windowS} s (max ${rl.max}); try again in ${Math.ceil((rl.windowS * 1000 - (t - h[0]!)) / 1000)} s`,
      };
    }
    return undefined;
  }

  record(action: string): void {
    const h = this.history.get(action) ?? [];
    h.push(this.now());
    this.history.set(action, h);
  }

  callerAllowed(peer: { uid: number; gid: number } | undefined): boolean {
    if (!peer) return false;
    const uids = this.cfg.allowedUids ?? [0];
    const gids = this.cfg.allowedGids ?? [];
    return uids.includes(peer.uid) || gids.includes(peer.gid);
  }
}
