/**
 * YAML rule file -> validated RuleSpecs. Checks everything that can be
 * checked without the other files (ids are unique within the whole set, which
 * ruleset.ts checks): types, closed word lists, units, operators against
 * their values, template placeholders against the rule's named values.
 * All errors of a file are collected; a rule with errors is left out.
 */
import { LineCounter, parseDocument, type Node } from 'yaml';
import { RuleError, type SourcePos } from './errors';
import type { ActionSpec, AttrLeaf, Condition, MetricLeaf, ParamSpec, RuleSpec, Scalar, Selector, TemplateSpec } from './spec';
import { NAME_PATTERN, parseSelector, parseTemplate } from './template';
import {
  DURATION_BOUND_TEXT,
  NUMBER_BOUND_TEXT,
  isBoundedNumber,
  parseDuration,
  parseQuantity,
  quantityBoundProblem,
  type Unit,
} from './units';
import { compileRuleRegex } from './regex';
import { NodeReader, type Fields } from './yaml-reader';
import { suggest } from './suggest';
import { readScenes, readVerify, type SceneRef, type SceneSpec } from './scenes';
import { attrProblem, metricProblem, selectorProblem } from './names';
import {
  ACTION_REQUIRED_PARAMS,
  ACTION_TARGET_TYPES,
  ACTION_TYPES,
  AGGS,
  ATTR_OPS,
  BIND_TYPES,
  COMPARE_OPS,
  EDGE_KINDS,
  WINDOWLESS_AGGS,
  type ActionType,
  type AttrOp,
  type CompareOp,
} from './vocabulary';
import type { Agg, EntityType } from './context';

type AnyNode = Node | null | undefined;

const FILE_KEYS = ['rules', 'scenes'];
const RULE_KEYS = ['id', 'description', 'scene', 'priority', 'confidence', 'enabled', 'bind', 'when', 'cause', 'actions', 'verify'];
const METRIC_KEYS = ['metric', 'agg', 'window', 'op', 'value', 'on', 'name'];
const ATTR_KEYS = ['attr', 'op', 'value', 'on', 'name'];
const CONDITION_KINDS = ['all', 'any', 'not', 'metric', 'attr'];
const ACTION_KEYS = ['type', 'text', 'target', 'params'];
const ID_PATTERN = /^[a-z0-9_.-]+$/;
const RESERVED_NAMES = new Set<string>(['self', ...EDGE_KINDS]);
const DURATION_HELP = 'expected a number and a unit (ns, us, ms, s, m, h, d), e.g. 30s or 500ms';
const QUANTITY_HELP = 'expected a number, a duration like 500ms, a size like 64MiB or a percentage like 90%';

/** Everything collected about one rule while reading it. */
class RuleReader {
  readonly names = new Map<string, SourcePos>();

  constructor(
    private readonly r: NodeReader,
    private readonly bind: EntityType | undefined,
  ) {}

  selector(node: AnyNode, what: string): Selector | undefined {
    const text = this.r.string(node, what);
    if (text === undefined) return undefined;
    const sel = parseSelector(text);
    if (!sel) return this.r.error(node, `bad ${what}: ${selectorProblem(text)}`);
    return sel;
  }

  condition(node: AnyNode, what = 'condition'): Condition | undefined {
    const r = this.r;
    const keys = r.pairs(node, what)?.map((p) => p.key);
    if (!keys) return undefined;
    const kinds = CONDITION_KINDS.filter((k) => keys.includes(k));
    if (kinds.length !== 1) {
      const found = kinds.length ? `found ${kinds.join(' and ')}` : `found keys ${keys.join(', ') || 'none'}`;
      const hint = kinds.length ? '' : (keys.map((k) => suggest(k, CONDITION_KINDS)).find((s) => s.includes('did you mean')) ?? '');
      return r.error(node, `${what} needs exactly one of all, any, not, metric, attr (${found})${hint}`);
    }
    const kind = kinds[0]!;
    if (kind === 'metric') return this.metricLeaf(node);
    if (kind === 'attr') return this.attrLeaf(node);
    const f = r.fields(node, `"${kind}" condition`, [kind]);
    if (!f) return undefined;
    if (kind === 'not') {
      const child = this.condition(f.get('not'), 'condition under "not"');
      return child && { kind, child, pos: f.pos };
    }
    const items = r.list(f.get(kind), `"${kind}"`);
    if (!items) return undefined;
    if (items.length === 0) return r.error(f.get(kind), `"${kind}" needs at least one condition`);
    const children = items.map((c) => this.condition(c, `condition under "${kind}"`));
    if (children.some((c) => c === undefined)) return undefined;
    return kind === 'all'
      ? { kind, children: children as Condition[], pos: f.pos }
      : { kind: 'any', children: children as Condition[], pos: f.pos };
  }

  /** The entity type a selector reads: the bound type for self (undefined when either is in error). */
  private typeOf(on: Selector | undefined): EntityType | undefined {
    return on === undefined ? undefined : on.kind === 'self' ? this.bind : on.type;
  }

  private leafCommon(f: Fields): { on?: Selector; name?: string; ok: boolean } {
    const r = this.r;
    let ok = true;
    let on: Selector | undefined = { kind: 'self', key: 'self' };
    if (f.has('on')) {
      on = this.selector(f.get('on'), '"on"');
      ok &&= on !== undefined;
    }
    let name: string | undefined;
    if (f.has('name')) {
      name = r.string(f.get('name'), '"name"');
      if (name !== undefined && (!NAME_PATTERN.test(name) || RESERVED_NAMES.has(name))) {
        r.error(f.get('name'), `bad name "${name}" (a name is letters, digits and _, not self or an edge kind)`);
        name = undefined;
      } else if (name !== undefined && this.names.has(name)) {
        const first = this.names.get(name)!;
        r.error(f.get('name'), `duplicate condition name "${name}" (first used at line ${first.line}:${first.col})`);
        name = undefined;
      } else if (name !== undefined) this.names.set(name, r.posOf(f.get('name')));
      ok &&= name !== undefined;
    }
    return { on, name, ok };
  }

  /** A threshold: a plain number or a number with a unit. */
  private quantity(node: AnyNode, what: string): { value: number; unit: Unit; text: string } | undefined {
    const v = this.r.scalar(node, what);
    if (v === undefined) return undefined;
    if (typeof v === 'number') {
      if (isBoundedNumber(v)) return { value: v, unit: 'number', text: String(v) };
      return this.r.error(node, `${what} ${String(v)} is out of range (${NUMBER_BOUND_TEXT})`);
    }
    if (typeof v === 'string') {
      const q = parseQuantity(v);
      if (q) return { ...q, text: v };
      const bound = quantityBoundProblem(v);
      if (bound) return this.r.error(node, `${what} "${shorten(v)}" is out of range (${bound})`);
      return this.r.error(node, `bad ${what} "${shorten(v)}" (${QUANTITY_HELP})`);
    }
    return this.r.error(node, `${what} must be a number, got ${this.r.describe(node)}`);
  }

  /** Metric values are numbers: only comparisons apply (an attr operator gets a precise message). */
  private metricOp(node: AnyNode): CompareOp | undefined {
    const v = this.r.scalar(node, 'operator');
    if (typeof v === 'string' && (ATTR_OPS as readonly string[]).includes(v) && !(COMPARE_OPS as readonly string[]).includes(v))
      return this.r.error(node, `operator "${v}" is not valid for a metric (expected one of ${COMPARE_OPS.join(', ')})`);
    return v === undefined ? undefined : this.r.oneOf(node, 'operator', COMPARE_OPS);
  }

  private metricLeaf(node: AnyNode): MetricLeaf | undefined {
    const r = this.r;
    const f = r.fields(node, 'metric condition', METRIC_KEYS, ['metric', 'op', 'value']);
    if (!f) return undefined;
    const common = this.leafCommon(f);
    let metric = f.has('metric') ? r.string(f.get('metric'), '"metric"') : undefined;
    const metricError = metric === undefined ? undefined : metricProblem(metric, this.typeOf(common.on));
    if (metricError) metric = r.error(f.get('metric'), metricError);
    const agg: Agg | undefined = f.has('agg') ? r.oneOf(f.get('agg'), 'aggregate', AGGS) : 'count';
    const op = f.has('op') ? this.metricOp(f.get('op')) : undefined;
    const value = f.has('value') ? this.quantity(f.get('value'), 'value') : undefined;
    let windowNs = 0n;
    let windowText: string | undefined;
    if (f.has('window')) {
      const w = r.scalar(f.get('window'), '"window"');
      const ns = typeof w === 'string' ? parseDuration(w) : undefined;
      if (w !== undefined && (ns === undefined || ns <= 0n))
        r.error(
          f.get('window'),
          `bad duration "${shorten(String(w ?? ''))}" for "window" (${DURATION_HELP}, more than 0 and ${DURATION_BOUND_TEXT})`,
        );
      else [windowNs, windowText] = [ns!, w as string];
    } else if (agg && !WINDOWLESS_AGGS.has(agg)) {
      r.error(f.pos, `missing required field "window" in metric condition (aggregate "${agg}" reads a time window)`);
    }
    if (
      !common.ok ||
      metric === undefined ||
      agg === undefined ||
      op === undefined ||
      value === undefined ||
      (windowText === undefined && !WINDOWLESS_AGGS.has(agg))
    )
      return undefined;
    const leaf: MetricLeaf = {
      kind: 'metric',
      pos: f.pos,
      on: common.on!,
      metric,
      agg,
      windowNs,
      op,
      value: value.value,
      valueText: value.text,
      unit: value.unit,
    };
    if (windowText !== undefined) leaf.windowText = windowText;
    if (common.name !== undefined) leaf.name = common.name;
    return leaf;
  }

  private attrValue(node: AnyNode, op: AttrOp): Pick<AttrLeaf, 'value' | 'valueText' | 'regex' | 'unit'> | undefined {
    const r = this.r;
    if (op === 'in' || op === 'not_in') {
      const items = r.list(node, `value for "${op}"`);
      if (!items) return undefined;
      const values = items.map((i) => r.scalar(i, `each value for "${op}"`));
      if (values.some((v) => v === undefined || v === null)) {
        for (const [i, v] of values.entries())
          if (v === null) r.error(items[i], `each value for "${op}" must be a string, number or boolean, got nothing`);
        return undefined;
      }
      return { value: values as Scalar[], valueText: `[${values.join(', ')}]`, unit: 'number' };
    }
    if (op === '>' || op === '>=' || op === '<' || op === '<=') {
      const q = this.quantity(node, 'value');
      return q && { value: q.value, valueText: q.text, unit: q.unit };
    }
    const v = r.scalar(node, 'value');
    if (v === undefined) return undefined;
    if (v === null) return r.error(node, `value for "${op}" must be a string, number or boolean, got nothing`);
    if (op === 'matches') {
      if (typeof v !== 'string') return r.error(node, `value for "matches" must be a regular expression string, got ${r.describe(node)}`);
      const compiled = compileRuleRegex(v);
      if (typeof compiled === 'string') return r.error(node, `bad regular expression "${shorten(v)}": ${compiled}`);
      return { value: v, valueText: `/${v}/`, regex: compiled, unit: 'number' };
    }
    return { value: v, valueText: typeof v === 'string' ? `"${v}"` : String(v), unit: 'number' };
  }

  private attrLeaf(node: AnyNode): AttrLeaf | undefined {
    const r = this.r;
    const f = r.fields(node, 'attr condition', ATTR_KEYS, ['attr', 'op']);
    if (!f) return undefined;
    const common = this.leafCommon(f);
    let attr = f.has('attr') ? r.string(f.get('attr'), '"attr"') : undefined;
    const attrError = attr === undefined ? undefined : attrProblem(attr, this.typeOf(common.on));
    if (attrError) attr = r.error(f.get('attr'), attrError);
    const op = f.has('op') ? r.oneOf(f.get('op'), 'operator', ATTR_OPS) : undefined;
    let value: ReturnType<RuleReader['attrValue']>;
    if (op === 'exists') {
      if (f.has('value')) r.error(f.get('value'), `operator "exists" takes no value`);
      else value = { valueText: '', unit: 'number' };
    } else if (op !== undefined) {
      if (!f.has('value')) r.error(f.pos, `missing required field "value" in attr condition (operator "${op}" compares with a value)`);
      else value = this.attrValue(f.get('value'), op);
    }
    if (!common.ok || attr === undefined || op === undefined || value === undefined) return undefined;
    const leaf: AttrLeaf = { kind: 'attr', pos: f.pos, on: common.on!, attr, op, ...value };
    if (common.name !== undefined) leaf.name = common.name;
    return leaf;
  }

  template(node: AnyNode, what: string): TemplateSpec | undefined {
    const source = this.r.string(node, what);
    if (source === undefined) return undefined;
    const { template, problems } = parseTemplate(source, new Set(this.names.keys()), what, this.bind);
    for (const p of problems) this.r.error(this.r.posInString(node, p.offset), p.message);
    return problems.length ? undefined : template;
  }

  private params(node: AnyNode): Record<string, ParamSpec> | undefined {
    const r = this.r;
    const pairs = r.pairs(node, 'action params');
    if (!pairs) return undefined;
    const params: Record<string, ParamSpec> = {};
    let ok = true;
    for (const { key, keyNode, value } of pairs) {
      const v = r.scalar(value, `param "${key}"`);
      if (v === null) r.error(keyNode, `param "${key}" has no value`);
      if (v === undefined || v === null) ok = false;
      else if (typeof v === 'string' && v.includes('{{')) {
        const t = this.template(value, `param "${key}"`);
        if (t) params[key] = { kind: 'template', template: t };
        else ok = false;
      } else params[key] = { kind: 'literal', value: v };
    }
    return ok ? params : undefined;
  }

  /** Whether the action can act on what its target selects (a renice needs a process). */
  private checkTarget(f: Fields, type: ActionType, target: Selector, params: Record<string, ParamSpec>): boolean {
    const wanted = ACTION_TARGET_TYPES[type];
    const actual = target.kind === 'neighbor' ? target.type : this.bind;
    if (!wanted || !actual || wanted.includes(actual)) return true;
    if (wanted.includes('process') && 'pid' in params) return true;
    const orPid = wanted.includes('process') ? ' (or name the process with params.pid)' : '';
    this.r.error(
      f.has('target') ? f.get('target') : f.pos,
      `action "${type}" acts on a ${wanted.join(' or ')}, but its target is a ${actual}${orPid}`,
    );
    return false;
  }

  action(node: AnyNode): ActionSpec | undefined {
    const r = this.r;
    const f = r.fields(node, 'action', ACTION_KEYS, ['type']);
    if (!f) return undefined;
    const type = f.has('type') ? r.oneOf(f.get('type'), 'action', ACTION_TYPES) : undefined;
    const text = f.has('text') ? this.template(f.get('text'), 'action text') : undefined;
    const target: Selector | undefined = f.has('target') ? this.selector(f.get('target'), 'action target') : { kind: 'self', key: 'self' };
    const params = f.has('params') ? this.params(f.get('params')) : {};
    if (!type || !target) return undefined;
    let ok = this.checkTarget(f, type, target, params ?? {}) && params !== undefined && (!f.has('text') || text !== undefined);
    if (type === 'manual' && !f.has('text')) {
      r.error(f.pos, `missing required field "text" in action (a manual action tells a person what to do)`);
      ok = false;
    }
    for (const need of ACTION_REQUIRED_PARAMS[type] ?? []) {
      if (!params || need in params) continue;
      r.error(f.pos, `action "${type}" needs params.${need}`);
      ok = false;
    }
    if (!ok || !params) return undefined;
    const action: ActionSpec = { type, target, params, pos: f.pos };
    if (text) action.text = text;
    return action;
  }
}

function readRule(r: NodeReader, node: AnyNode, sceneRefs: SceneRef[]): RuleSpec | undefined {
  const before = r.errors.length;
  const f = r.fields(node, 'rule', RULE_KEYS, ['id', 'scene', 'when']);
  if (!f) return undefined;
  const id = f.has('id') ? r.string(f.get('id'), '"id"') : undefined;
  if (id !== undefined && !ID_PATTERN.test(id))
    r.error(f.get('id'), `bad rule id "${id}" (use lower-case letters, digits, "_", "." and "-")`);
  const description = f.has('description') ? r.string(f.get('description'), '"description"') : '';
  // a scene name is checked against the declared scenes once every file is read (scenes.ts)
  const sceneValue = f.has('scene') ? r.scalar(f.get('scene'), '"scene"') : undefined;
  const scene = sceneValue === undefined || sceneValue === null ? undefined : String(sceneValue);
  if (sceneValue === null) r.error(f.get('scene'), '"scene" has no value');
  if (scene !== undefined) sceneRefs.push({ name: scene, pos: r.posOf(f.get('scene')) });
  const verify = f.has('verify') ? readVerify(r, f.get('verify')) : undefined;
  const priority = f.has('priority') ? r.number(f.get('priority'), '"priority"', 0, 100, true) : 50;
  const confidence = f.has('confidence') ? r.number(f.get('confidence'), '"confidence"', 0, 1) : 0.7;
  const enabled = f.has('enabled') ? r.boolean(f.get('enabled'), '"enabled"') : true;
  const bind: EntityType | undefined = f.has('bind') ? r.oneOf(f.get('bind'), 'bind type', BIND_TYPES) : 'process';
  const rr = new RuleReader(r, bind);
  // conditions first: their names are what templates may use
  const when = f.has('when') ? rr.condition(f.get('when'), '"when"') : undefined;
  const cause = f.has('cause')
    ? rr.template(f.get('cause'), 'cause')
    : { source: description || scene || '', parts: [description || scene || ''] };
  const actions = f.has('actions') ? (r.list(f.get('actions'), '"actions"') ?? []).map((a) => rr.action(a)) : [];
  if (r.errors.length > before) return undefined;
  const spec: RuleSpec = {
    id: id!,
    description: description!,
    scene: scene!,
    priority: priority!,
    confidence: confidence!,
    enabled: enabled!,
    bind: bind!,
    when: when!,
    cause: cause!,
    actions: actions as ActionSpec[],
    pos: f.pos,
    idPos: r.posOf(f.get('id')),
  };
  if (verify) spec.verify = verify;
  return spec;
}

/** YAML's own messages, with a hint for the operator spellings YAML reads as syntax. */
function yamlMessage(code: string, message: string, word: string): string | undefined {
  if (code === 'TAG_RESOLVE_FAILED' && word.startsWith('!'))
    return `"${word}" must be quoted in YAML ('${word}'), unquoted it is read as a tag`;
  if (/block scalar header/i.test(message) && word.startsWith('>'))
    return `"${word}" must be quoted in YAML ('${word}'), unquoted it starts a folded block`;
  return undefined;
}

export interface ParsedRuleFile {
  file: string;
  rules: RuleSpec[];
  /** the scenes the file declares (`scenes:`) */
  scenes: SceneSpec[];
  /** every scene a rule names, the rules with errors included (checked once all files are read) */
  sceneRefs: SceneRef[];
  errors: RuleError[];
}

/** Parses and validates one rule file's text; `file` is only used in messages. */
/** A rule file larger than this is refused unread (the shipped files are a few KiB). */
export const MAX_RULE_FILE_BYTES = 1024 * 1024;

export function parseRuleFile(text: string, file: string): ParsedRuleFile {
  if (text.length > MAX_RULE_FILE_BYTES)
    return {
      file,
      rules: [],
      scenes: [],
      sceneRefs: [],
      errors: [new RuleError(file, 1, 1, `rule file of ${text.length} characters, more than the ${MAX_RULE_FILE_BYTES}-character limit`)],
    };
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const r = new NodeReader(file, text, lines, doc);
  const problems = [...doc.errors, ...doc.warnings];
  for (const e of problems) {
    // the word the error is in (a block header error points inside ">=")
    const start = Math.max(text.lastIndexOf(' ', e.pos[0]), text.lastIndexOf('\n', e.pos[0])) + 1;
    const word = (text.slice(start).split(/\s/, 1)[0] ?? '').replace(/[,\]}]+$/, '');
    const hint = yamlMessage(e.code, e.message, word);
    r.error(r.posAt(hint ? start : e.pos[0]), hint ?? `YAML: ${e.message}`);
  }
  // a syntax error makes the tree unreliable: report YAML's errors only
  if (doc.errors.length || r.checkAliases(doc.contents as AnyNode))
    return { file, rules: [], scenes: [], sceneRefs: [], errors: sortByPosition(r.errors) };
  const f = r.fields(doc.contents as AnyNode, 'rule file', FILE_KEYS, ['rules']);
  const rules: RuleSpec[] = [];
  const scenes = f?.has('scenes') ? readScenes(r, f.get('scenes')) : [];
  const sceneRefs: SceneRef[] = [];
  if (f?.has('rules')) {
    for (const item of r.list(f.get('rules'), '"rules"') ?? []) {
      const rule = readRule(r, item, sceneRefs);
      if (rule) rules.push(rule);
    }
  }
  return { file, rules, scenes, sceneRefs, errors: sortByPosition(r.errors) };
}

/** A value quoted in a message: a 400-digit number is not repeated in full. */
function shorten(text: string): string {
  return text.length > 40 ? `${text.slice(0, 20)}…(${text.length} characters)` : text;
}

function sortByPosition(errors: RuleError[]): RuleError[] {
  return errors.sort((a, b) => a.line - b.line || a.col - b.col);
}
