/**
 * RuleSpec -> CompiledRule: the condition, the cause and the actions become
 * closures once, at load; evaluate() only runs them. A match carries
 * everything `why` and `fix` need: the rendered cause, the leaf evidence, the
 * named values, the neighbours it resolved and the rendered actions.
 */
import type { EdgeKind, EntityRef, EntityType, EvalContext } from './context';
import type { SourcePos } from './errors';
import type { RuleSpec, Scalar, Selector } from './spec';
import { compileCondition, EvalScope, leavesOf, type LeafValue } from './conditions';
import { compileGuard } from './guard';
import { compileTemplate, compileValueTemplate, templateSelectors, type TemplateScope, type TemplateValue } from './template';
import { ACTION_TARGET_TYPES, type ActionType, type Scene } from './vocabulary';
import type { VerifySpec } from './scenes';

export interface Evidence {
  leaf: string; // e.g. "sum(tcp.retransmits over 30s) = 42 >= 3"
  value: number | string | boolean | undefined;
  entity: EntityRef;
}

export interface RenderedAction {
  type: ActionType;
  text?: string;
  targetSpec: string; // "self", "waits_on.process", ...
  target: EntityRef;
  params: Record<string, Scalar>;
}

export interface RuleMatch {
  ruleId: string;
  scene: Scene;
  priority: number;
  confidence: number;
  score: number; // priority * confidence: the order in which matches explain an entity
  entity: EntityRef;
  atNs: bigint; // ctx.nowNs of the evaluation
  cause: string;
  values: Record<string, number>;
  bindings: Record<string, EntityRef>;
  evidence: Evidence[];
  actions: RenderedAction[];
  /** what a fix plan verifies (the rule's or its scene's `verify:`) */
  verify?: VerifySpec;
}

/** What a rule reads, by entity: the matcher's index of which changes can affect it. */
export interface RuleReads {
  selfMetrics: string[];
  viaNeighbor: { edge: EdgeKind; type: EntityType; metrics: string[]; attrs: string[] }[];
}

/**
 * A rule that holds on an entity, with its neighbours bound but its text (cause,
 * evidence, actions) not yet rendered: `why` ranks many and renders the few it reports.
 */
export interface PendingMatch {
  ruleId: string;
  scene: Scene;
  priority: number;
  confidence: number;
  score: number;
  entity: EntityRef;
  bindings: Record<string, EntityRef>;
  /** The full match; renders once, from the state the rule was tested on (call it before the graph changes). */
  render(): RuleMatch;
}

export interface CompiledRule {
  id: string;
  scene: Scene;
  priority: number;
  confidence: number;
  bind: EntityType;
  description: string;
  metrics: string[]; // every metric name it reads, on any entity
  reads: RuleReads;
  source: SourcePos;
  evaluate(ctx: EvalContext, entity: EntityRef): RuleMatch | null;
  /** The condition only; the match is rendered on demand. */
  test(ctx: EvalContext, entity: EntityRef): PendingMatch | null;
}

/** Best explanation first: higher priority*confidence, then higher priority, then id. */
export function compareMatches(
  a: Pick<RuleMatch, 'score' | 'priority' | 'ruleId'>,
  b: Pick<RuleMatch, 'score' | 'priority' | 'ruleId'>,
): number {
  return b.score - a.score || b.priority - a.priority || (a.ruleId < b.ruleId ? -1 : a.ruleId > b.ruleId ? 1 : 0);
}

function readsOf(spec: RuleSpec): RuleReads {
  const self = new Set<string>();
  const via = new Map<string, RuleReads['viaNeighbor'][number]>();
  for (const leaf of leavesOf(spec.when)) {
    if (leaf.on.kind === 'self') {
      if (leaf.kind === 'metric') self.add(leaf.metric);
      continue;
    }
    const entry = via.get(leaf.on.key) ?? { edge: leaf.on.edge, type: leaf.on.type, metrics: [], attrs: [] };
    via.set(leaf.on.key, entry);
    const [list, name] = leaf.kind === 'metric' ? [entry.metrics, leaf.metric] : [entry.attrs, leaf.attr];
    if (!list.includes(name)) list.push(name);
  }
  return { selfMetrics: [...self], viaNeighbor: [...via.values()] };
}

export function compileRule(spec: RuleSpec): CompiledRule {
  const { fn: condition, named } = compileCondition(spec.when, new Map(), spec.bind);
  const guard = compileGuard(spec.when);
  const head: MatchHead = {
    ruleId: spec.id,
    scene: spec.scene,
    priority: spec.priority,
    confidence: spec.confidence,
    score: spec.priority * spec.confidence,
  };
  const cause = compileTemplate(spec.cause);
  const actions = spec.actions.map((a) => {
    const params = Object.entries(a.params).map(
      ([k, p]) => [k, p.kind === 'literal' ? () => p.value : compileValueTemplate(p.template)] as const,
    );
    // an action aimed at a non-process with params.pid (the top CPU competitor) is nothing without that pid
    const targetType = a.target.kind === 'neighbor' ? a.target.type : spec.bind;
    const wanted = ACTION_TARGET_TYPES[a.type];
    const needsPid = !!wanted && !wanted.includes(targetType);
    return { type: a.type, target: a.target, text: a.text && compileTemplate(a.text), params, needsPid };
  });
  // neighbours templates and action targets use, resolved for the match's bindings
  const rendered: Selector[] = [
    ...templateSelectors(spec.cause),
    ...spec.actions.flatMap((a) => [a.target, ...(a.text ? templateSelectors(a.text) : [])]),
  ];
  const reads = readsOf(spec);
  const metrics = [...new Set([...reads.selfMetrics, ...reads.viaNeighbor.flatMap((v) => v.metrics)])];

  /** Binds what a match names: its named values and the neighbours its templates and actions use. */
  const bind = (s: EvalScope): void => {
    for (const [name, leaf] of named) if (!s.hasNamed(name)) s.setNamed(name, leaf.read(s));
    for (const sel of rendered) s.resolve(sel);
  };
  const render = (s: EvalScope): RuleMatch => {
    const scope: TemplateScope = {
      attrOf: (on, attr): TemplateValue => {
        const e = s.resolve(on);
        return e ? s.ctx.attr(e, attr) : undefined;
      },
      named: (name): LeafValue => s.named(name),
    };
    const renderedActions: RenderedAction[] = [];
    for (const a of actions) {
      const target = s.resolve(a.target);
      if (!target) continue; // nothing to act on: the neighbour it names is gone
      const params: Record<string, Scalar> = {};
      for (const [k, f] of a.params) {
        const v = f(scope);
        if (v !== undefined) params[k] = v;
      }
      if (a.needsPid && params.pid === undefined) continue;
      const r: RenderedAction = { type: a.type, targetSpec: a.target.key, target, params };
      if (a.text) r.text = a.text(scope);
      renderedActions.push(r);
    }
    const match: RuleMatch = {
      ...head,
      entity: s.self,
      atNs: s.ctx.nowNs,
      cause: cause(scope),
      values: s.numbers(),
      bindings: s.bindings(),
      evidence: s.results().map((r) => ({ leaf: r.leaf.describe(r), value: r.value, entity: r.entity ?? s.self })),
      actions: renderedActions,
    };
    if (spec.verify) match.verify = spec.verify;
    return match;
  };

  // the scope of the last evaluation that did not match, reused by the next one (of any context)
  let spare: EvalScope | undefined;
  const holds = (ctx: EvalContext, entity: EntityRef): EvalScope | null => {
    if (entity.type !== spec.bind) return null;
    if (guard && !guard(ctx, entity)) return null; // a threshold it needs is not reached
    let s = spare;
    if (s) s.reset(ctx, entity);
    else s = new EvalScope(ctx, entity);
    spare = undefined;
    if (!condition(s)) {
      spare = s;
      return null;
    }
    bind(s); // a match keeps its scope: it renders from it
    return s;
  };
  return {
    id: spec.id,
    scene: spec.scene,
    priority: spec.priority,
    confidence: spec.confidence,
    bind: spec.bind,
    description: spec.description,
    metrics,
    reads,
    source: spec.pos,
    evaluate(ctx, entity) {
      const s = holds(ctx, entity);
      return s ? render(s) : null;
    },
    test(ctx, entity) {
      const s = holds(ctx, entity);
      return s ? new Pending(head, entity, s, render) : null;
    },
  };
}

/** What every match of a rule starts with. */
interface MatchHead {
  ruleId: string;
  scene: Scene;
  priority: number;
  confidence: number;
  score: number;
}

/**
 * A match as test() returns it: the evaluation's scope, rendered on demand. A
 * class rather than an object literal with a closure: a closure's captured
 * variables would cost an allocation on every test(), matching or not.
 */
class Pending implements PendingMatch {
  private done: RuleMatch | undefined = undefined;
  private bound: Record<string, EntityRef> | undefined = undefined;

  constructor(
    private readonly head: MatchHead,
    readonly entity: EntityRef,
    private readonly scope: EvalScope,
    private readonly renderScope: (s: EvalScope) => RuleMatch,
  ) {}

  get ruleId(): string {
    return this.head.ruleId;
  }
  get scene(): Scene {
    return this.head.scene;
  }
  get priority(): number {
    return this.head.priority;
  }
  get confidence(): number {
    return this.head.confidence;
  }
  get score(): number {
    return this.head.score;
  }
  get bindings(): Record<string, EntityRef> {
    return (this.bound ??= this.scope.bindings());
  }

  render(): RuleMatch {
    return (this.done ??= this.renderScope(this.scope));
  }
}
