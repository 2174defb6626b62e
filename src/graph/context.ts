/**
 * What a rule can see of the causal graph. The graph implements EvalContext;
 * the rule engine only reads through it, so rules can be tested against an
 * in-memory fake and evaluated against a live graph or a replay alike. It
 * lives here, below the rules, so that the graph never imports the rules.
 */
import type { AttrDef } from './attributes';
import type { Agg, EdgeKind, EntityType } from './vocabulary';

export type { Agg, EdgeKind, EntityType };
export interface EntityRef {
  type: EntityType;
  id: string; // opaque, e.g. "p:1234:987654321"
}

export interface EvalContext {
  nowNs: bigint;
  /**
   * Aggregate of a windowed metric on an entity over the last `windowSec` seconds; undefined if the
   * entity has no such series (treat as 0 for count/sum/rate, as "no data" -> condition false otherwise).
   * Seconds as a number, converted once per rule: this is called per evaluation.
   */
  metric(e: EntityRef, name: string, agg: Agg, windowSec: number): number | undefined;
  /** Entity attribute (the names per entity type are in graph/attributes.ts). undefined if absent. */
  attr(e: EntityRef, name: string): string | number | boolean | undefined;
  /**
   * Optional: attr() for an attribute already looked up in the catalogue (of e's type). Rules look
   * theirs up once, when they compile, so an evaluation reads it with no lookup by name.
   */
  attrOf?(e: EntityRef, def: AttrDef): string | number | boolean | undefined;
  /** Neighbours of e over an edge kind, strongest evidence first (e.g. the peer a process waits on). */
  neighbors(e: EntityRef, edge: EdgeKind, type?: EntityType): EntityRef[];
  /** Optional: neighbors(e, edge, type)[0] without ranking them all (rules read the strongest one). */
  strongest?(e: EntityRef, edge: EdgeKind, type?: EntityType): EntityRef | undefined;
  /**
   * Optional reverse of neighbors(): the entities of `type` that have `e` as an
   * `edge` neighbour (e.g. the processes waiting on a stopped process). When
   * provided, the incremental matcher uses it so that a change on a neighbour
   * (the holder gets SIGSTOPped, a device's latency rises) re-evaluates the
   * rules of the entities that read it through `on: waits_on.<type>`.
   */
  dependents?(e: EntityRef, edge: EdgeKind, type: EntityType): EntityRef[];
}
