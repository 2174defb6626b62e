import type { PlanStep } from '../plan';
import type { FixConfig } from '../policy';

export interface ActionContext {
  config: FixConfig;
}

export interface ActionResult {
  status: 'ok' | 'failed' | 'refused' | 'unsupported' | 'manual';
  detail: string;
}

export type ActionRunner = (step: PlanStep, ctx: ActionContext) => Promise<ActionResult>;

export function signalNumber(v: string | number | boolean | undefined): NodeJS.Signals | number | undefined {
  if (v === undefined || typeof v === 'boolean') return undefined;
  if (typeof v === 'number' || /^\d+$/.test(v)) return Number(v);
  const name = v.toUpperCase().startsWith('SIG') ? v.toUpperCase() : `SIG${v.toUpperCase()}`;
  return (require('node:os') as typeof import('node:os')).constants.signals[name as NodeJS.Signals] !== undefined
    ? (name as NodeJS.Signals)
    : undefined;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function errText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code ? `${err.code}: ${err.message}` : String(err.message ?? e);
}
