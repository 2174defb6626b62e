/**
 * Cause and action templates: "{{self.comm}} waits on {{waits_on.peer.endpoint}}:
 * {{retrans | int}} retransmits". Parsed and checked when the rule file loads
 * (an unknown placeholder is a load error, not a "?" in production output),
 * then compiled into a function of the values of one evaluation.
 */
import type { Placeholder, Scalar, Selector, TemplateSpec } from './spec';
import { EDGE_KINDS, ENTITY_TYPES, TEMPLATE_FILTERS, type TemplateFilter } from './vocabulary';
import { formatBytes, formatNs, formatNumber, formatPct } from '../events/units-text';
import { suggest } from './suggest';
import { attrProblem, selectorProblem } from './names';
import type { EdgeKind, EntityType } from './context';

export interface TemplateProblem {
  offset: number; // into the template source
  message: string;
}

export const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** "self" or "waits_on.peer"; undefined when not a selector. */
export function parseSelector(text: string): Selector | undefined {
  if (text === 'self') return { kind: 'self', key: 'self' };
  const [edge, type, ...rest] = text.split('.');
  if (rest.length || !EDGE_KINDS.includes(edge as EdgeKind) || !ENTITY_TYPES.includes(type as EntityType)) return undefined;
  return { kind: 'neighbor', edge: edge as EdgeKind, type: type as EntityType, key: text };
}

/** `bind`: the type `self` is (undefined when the rule's bind is in error: self's attributes go unchecked). */
function parsePlaceholder(inner: string, names: ReadonlySet<string>, where: string, bind: EntityType | undefined): Placeholder | string {
  const [pathText = '', ...filterTexts] = inner.split('|').map((s) => s.trim());
  const filters: Placeholder['filters'] = [];
  for (const f of filterTexts) {
    const m = /^([a-z_]+)\s*(?::\s*(.*))?$/s.exec(f);
    const name = m?.[1] as TemplateFilter | undefined;
    if (!m || !name || !TEMPLATE_FILTERS.includes(name))
      return `unknown filter "${f}" in "{{${inner}}}" in ${where}${suggest(f, TEMPLATE_FILTERS)}`;
    const arg = m[2]?.trim().replace(/^(["'])(.*)\1$/s, '$2');
    if (name === 'default' && arg === undefined)
      return `filter "default" needs a text in ${where}, e.g. {{${pathText} | default: unknown}}`;
    if (name !== 'default' && arg !== undefined) return `filter "${name}" takes no argument in "{{${inner}}}" in ${where}`;
    filters.push(arg === undefined ? { name } : { name, arg });
  }
  const segs = pathText.split('.');
  if (segs.length === 1 && NAME_PATTERN.test(pathText)) {
    if (names.has(pathText)) return { text: inner, ref: { kind: 'value', name: pathText }, filters };
  } else if (segs[0] === 'self' && segs.length >= 2 && segs.every(Boolean)) {
    const attr = segs.slice(1).join('.');
    const problem = attrProblem(attr, bind);
    if (problem) return `${problem} in "{{${inner}}}" in ${where}`;
    return { text: inner, ref: { kind: 'attr', on: { kind: 'self', key: 'self' }, attr }, filters };
  } else if (segs.length >= 3 && segs.every(Boolean)) {
    const selector = `${segs[0]}.${segs[1]}`;
    const on = parseSelector(selector);
    if (!on && (EDGE_KINDS as readonly string[]).includes(segs[0]!)) return `${selectorProblem(selector)} in "{{${inner}}}" in ${where}`;
    if (on?.kind === 'neighbor') {
      const attr = segs.slice(2).join('.');
      const problem = attrProblem(attr, on.type);
      if (problem) return `${problem} in "{{${inner}}}" in ${where}`;
      return { text: inner, ref: { kind: 'attr', on, attr }, filters };
    }
  }
  const named = names.size
    ? suggest(pathText, [...names])
        .slice(2, -1)
        .replace('expected one of', 'named values:')
    : 'no condition has a "name:"';
  return `unknown placeholder "{{${inner}}}" in ${where} (${named}; attributes are self.<attr> or <waits_on|consumes|blocked_by>.<type>.<attr>)`;
}

/** Splits a template into text and checked placeholders; every problem is reported, not just the first. */
export function parseTemplate(
  source: string,
  names: ReadonlySet<string>,
  where = 'template',
  bind?: EntityType,
): { template: TemplateSpec; problems: TemplateProblem[] } {
  const parts: TemplateSpec['parts'] = [];
  const problems: TemplateProblem[] = [];
  let at = 0;
  while (at < source.length) {
    const open = source.indexOf('{{', at);
    if (open < 0) break;
    const close = source.indexOf('}}', open + 2);
    if (close < 0) {
      problems.push({ offset: open, message: `unclosed "{{" in ${where}` });
      break;
    }
    if (open > at) parts.push(source.slice(at, open));
    const p = parsePlaceholder(source.slice(open + 2, close).trim(), names, where, bind);
    if (typeof p === 'string') problems.push({ offset: open, message: p });
    else parts.push(p);
    at = close + 2;
  }
  if (at < source.length) parts.push(source.slice(at));
  return { template: { source, parts }, problems };
}

/** Selectors a template reads, so the compiler can resolve them for rendering. */
export function templateSelectors(t: TemplateSpec): Selector[] {
  return t.parts.flatMap((p) => (typeof p !== 'string' && p.ref.kind === 'attr' ? [p.ref.on] : []));
}

export type TemplateValue = Scalar | undefined;
/** What a rendered template can look up: an attribute of a selected entity, or a named leaf's value. */
export interface TemplateScope {
  attrOf(on: Selector, attr: string): TemplateValue;
  named(name: string): TemplateValue;
}

function applyFilter(v: TemplateValue, f: Placeholder['filters'][number]): TemplateValue {
  if (v === undefined) return f.name === 'default' ? f.arg : undefined;
  const n = typeof v === 'number' ? v : Number(v);
  if (f.name === 'default' || typeof v === 'boolean' || !Number.isFinite(n)) return v;
  switch (f.name) {
    case 'ns':
      return formatNs(n);
    case 'bytes':
      return formatBytes(n);
    case 'pct':
      return formatPct(n);
    case 'int':
      return String(Math.round(n));
  }
}

function show(v: TemplateValue): string {
  if (v === undefined) return '?';
  return typeof v === 'number' ? formatNumber(v) : String(v);
}

export type RenderFn = (scope: TemplateScope) => string;

/**
 * Compiles a checked template into a renderer. Missing values render as "?"
 * unless a `default:` filter gives the text to use.
 */
export function compileTemplate(t: TemplateSpec): RenderFn {
  const pieces = t.parts.map((p): RenderFn => {
    if (typeof p === 'string') return () => p;
    const { ref, filters } = p;
    const read = ref.kind === 'value' ? (s: TemplateScope) => s.named(ref.name) : (s: TemplateScope) => s.attrOf(ref.on, ref.attr);
    return (s) => show(filters.reduce(applyFilter, read(s)));
  });
  if (pieces.length === 1) return pieces[0]!;
  return (s) => pieces.map((f) => f(s)).join('');
}

/**
 * A template that is exactly one unfiltered placeholder keeps its value's
 * type (so `pid: "{{waits_on.cpu.top.pid}}"` renders a number for `xctl fix`).
 */
export function compileValueTemplate(t: TemplateSpec): (scope: TemplateScope) => TemplateValue {
  const only = t.parts.length === 1 ? t.parts[0] : undefined;
  if (only && typeof only !== 'string' && only.filters.length === 0) {
    const ref = only.ref;
    return ref.kind === 'value' ? (s) => s.named(ref.name) : (s) => s.attrOf(ref.on, ref.attr);
  }
  return compileTemplate(t);
}
