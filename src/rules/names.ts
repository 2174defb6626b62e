/**
 * Checks a rule's words against the graph's catalogue (graph/vocabulary.ts,
 * graph/attributes.ts): a misspelt metric, attribute, edge kind or entity
 * type is a load error with a "did you mean", not a rule that never matches.
 * Each function returns the problem, or undefined when the name is known.
 */
import { attributeNames, attributeOf } from '../graph/attributes';
import { EDGE_KINDS, ENTITY_TYPES, METRIC_NAMES, metricDef, type EdgeKind, type EntityType } from '../graph/vocabulary';
import { suggest } from './suggest';

/** "a process", "an error": how messages name an entity type. */
export function aType(type: EntityType): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** `type`: the entity the leaf reads, undefined when unknown (then only the name is checked). */
export function metricProblem(metric: string, type: EntityType | undefined): string | undefined {
  const def = metricDef(metric);
  if (!def) return `unknown metric "${metric}"${suggest(metric, METRIC_NAMES)}`;
  if (type && !def.entities.includes(type))
    return `metric "${metric}" is not recorded on ${aType(type)} (only on ${def.entities.join(', ')})`;
  return undefined;
}

export function attrProblem(attr: string, type: EntityType | undefined): string | undefined {
  if (!type || attributeOf(type, attr)) return undefined;
  const names = attributeNames(type);
  if (!names.length) return `unknown attribute "${attr}": ${aType(type)} has no attributes`;
  return `unknown attribute "${attr}" of ${aType(type)}${suggest(attr, names)}`;
}

/** What is wrong with a selector text that is not "self" nor <edge kind>.<entity type>. */
export function selectorProblem(text: string): string {
  const [edge = '', type, ...rest] = text.split('.');
  if (!EDGE_KINDS.includes(edge as EdgeKind)) return `unknown edge kind "${edge}" in "${text}"${suggest(edge, EDGE_KINDS)}`;
  if (type === undefined || rest.length)
    return `bad selector "${text}" (expected self or <${EDGE_KINDS.join('|')}>.<entity type>, e.g. waits_on.peer)`;
  return `unknown entity type "${type}" in "${text}"${suggest(type, ENTITY_TYPES)}`;
}
