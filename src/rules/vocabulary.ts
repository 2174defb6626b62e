/**
 * The closed word lists of the rule language. Each list is one exported
 * constant so that a new action or operator is a one-line change and the
 * validator, the docs and `xctl fix` all see the same list. Scenes are not
 * here: rule files declare them (scenes.ts).
 */
import { AGGS, BIND_TYPES, EDGE_KINDS, ENTITY_TYPES, type Agg, type EntityType } from '../graph/vocabulary';

/** The graph's words (declared in graph/vocabulary.ts), for the rule modules. */
export { AGGS, BIND_TYPES, EDGE_KINDS, ENTITY_TYPES };

/** A scene is data: rule files declare them (`scenes:`, see scenes.ts), so a new one needs no code. */
export type Scene = string;

export const ACTION_TYPES = [
  'manual',
  'signal',
  'terminate',
  'sigcont',
  'renice',
  'ionice',
  'cgroup_cpu_limit',
  'cgroup_io_limit',
  'drop_caches',
  'gpu_reset',
  'cordon_node',
  'checkpoint',
] as const;
export type ActionType = (typeof ACTION_TYPES)[number];

/**
 * Entity types an action can act on, for actions that act on one thing. A
 * process action may also name its process with `params.pid` (e.g. the top
 * CPU competitor, which is an attribute of the cpu entity, not an entity).
 * Actions not listed (manual, drop_caches, cordon_node) act on the host or
 * on nothing and accept any target.
 */
export const ACTION_TARGET_TYPES: Partial<Record<ActionType, readonly EntityType[]>> = {
  signal: ['process'],
  terminate: ['process'],
  sigcont: ['process'],
  renice: ['process'],
  ionice: ['process'],
  checkpoint: ['process'],
  cgroup_cpu_limit: ['process', 'cgroup'],
  cgroup_io_limit: ['process', 'cgroup'],
  gpu_reset: ['gpu'],
};

/** Params an action cannot do without. */
export const ACTION_REQUIRED_PARAMS: Partial<Record<ActionType, readonly string[]>> = {
  signal: ['signal'],
};

/** Aggregates whose value is 0, not "no data", when the entity has no such series. */
export const ZERO_WHEN_ABSENT: ReadonlySet<Agg> = new Set<Agg>(['count', 'sum', 'rate']);
/** Aggregates that read a point value and need no window. */
export const WINDOWLESS_AGGS: ReadonlySet<Agg> = new Set<Agg>(['last']);

export const COMPARE_OPS = ['==', '!=', '>', '>=', '<', '<='] as const;
export type CompareOp = (typeof COMPARE_OPS)[number];
export const ATTR_OPS = [...COMPARE_OPS, 'in', 'not_in', 'exists', 'matches'] as const;
export type AttrOp = (typeof ATTR_OPS)[number];

export const TEMPLATE_FILTERS = ['ns', 'bytes', 'pct', 'int', 'default'] as const;
export type TemplateFilter = (typeof TEMPLATE_FILTERS)[number];

/** What `xctl verify` can measure besides a graph metric: a state read from /proc (1 when it holds). */
export const VERIFY_STATES = ['process.stopped', 'tcp.send_blocked'] as const;
/** Whose value a verification measures: the process asked about, or the culprit its finding names. */
export const VERIFY_OF = ['victim', 'culprit'] as const;
