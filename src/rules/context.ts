/** What a rule can see of the graph: declared in the graph (graph/context.ts), which never imports the rules. */
export type { Agg, EdgeKind, EntityRef, EntityType, EvalContext } from '../graph/context';
