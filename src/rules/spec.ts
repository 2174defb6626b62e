/**
 * The validated form of a rule file: what schema.ts produces from YAML and
 * compile.ts turns into closures. Every node keeps its source position so
 * later checks (duplicate ids across files) can still point at the text.
 */
import type { Agg, EdgeKind, EntityType } from './context';
import type { SourcePos } from './errors';
import type { ActionType, AttrOp, CompareOp, Scene, TemplateFilter } from './vocabulary';
import type { VerifySpec } from './scenes';
import type { Unit } from './units';

export type Scalar = string | number | boolean;

/** Which entity a leaf (or template, or action) reads: the bound one or its strongest neighbour. */
export type Selector = { kind: 'self'; key: 'self' } | { kind: 'neighbor'; edge: EdgeKind; type: EntityType; key: string };

export type TemplateRef = { kind: 'attr'; on: Selector; attr: string } | { kind: 'value'; name: string };
export interface Placeholder {
  text: string; // the source between the braces, for messages
  ref: TemplateRef;
  filters: { name: TemplateFilter; arg?: string }[];
}
export interface TemplateSpec {
  source: string;
  parts: (string | Placeholder)[];
}

interface LeafBase {
  pos: SourcePos;
  on: Selector;
  name?: string;
}
export interface MetricLeaf extends LeafBase {
  kind: 'metric';
  metric: string;
  agg: Agg;
  windowNs: bigint;
  windowText?: string;
  op: CompareOp;
  value: number;
  valueText: string;
  unit: Unit; // how the threshold was written, so evidence prints the measured value the same way
}
export interface AttrLeaf extends LeafBase {
  kind: 'attr';
  attr: string;
  op: AttrOp;
  value?: Scalar | Scalar[]; // absent for exists
  valueText: string;
  regex?: RegExp; // for matches
  unit: Unit;
}
export type Leaf = MetricLeaf | AttrLeaf;
export type Condition =
  | { kind: 'all'; children: Condition[]; pos: SourcePos }
  | { kind: 'any'; children: Condition[]; pos: SourcePos }
  | { kind: 'not'; child: Condition; pos: SourcePos }
  | Leaf;

export type ParamSpec = { kind: 'literal'; value: Scalar } | { kind: 'template'; template: TemplateSpec };
export interface ActionSpec {
  type: ActionType;
  text?: TemplateSpec;
  target: Selector;
  params: Record<string, ParamSpec>;
  pos: SourcePos;
}

export interface RuleSpec {
  id: string;
  description: string;
  scene: Scene;
  priority: number;
  confidence: number;
  enabled: boolean;
  bind: EntityType;
  when: Condition;
  cause: TemplateSpec;
  actions: ActionSpec[];
  pos: SourcePos; // the rule's mapping
  idPos: SourcePos;
  /** what a fix plan verifies: the rule's own `verify:`, else its scene's (filled in when the set loads) */
  verify?: VerifySpec;
}
