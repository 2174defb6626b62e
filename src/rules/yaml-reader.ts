/**
 * Position-aware reading of a parsed YAML document: typed accessors that
 * report "file:line:col: what is wrong" and keep going, so one pass over a
 * file collects all of its errors.
 */
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  visit,
  type Alias,
  type Document,
  type LineCounter,
  type Node,
  type Scalar,
  type YAMLMap,
  type YAMLSeq,
} from 'yaml';
import { RuleError, type SourcePos } from './errors';
import { suggest } from './suggest';

type AnyNode = Node | null | undefined;

/** A mapping whose keys were checked; values are looked up by key. */
export interface Fields {
  node: YAMLMap;
  pos: SourcePos;
  has(key: string): boolean;
  get(key: string): AnyNode;
}

/** YAML alias limits: aliases are followed, never copied, but a walk over nested aliases visits their expansion. */
export const MAX_ALIASES = 1000;
export const MAX_EXPANDED_NODES = 100_000;

export class NodeReader {
  readonly errors: RuleError[] = [];
  /** each alias's anchor node, found in one pass (yaml's own resolve walks the whole document per call) */
  private readonly targets = new Map<Alias, Node | undefined>();

  constructor(
    readonly file: string,
    private readonly source: string,
    private readonly lines: LineCounter,
    doc: Document,
  ) {
    const anchors = new Map<string, Node>();
    visit(doc, {
      Node: (_key, node) => {
        if (isAlias(node)) this.targets.set(node, anchors.get(node.source));
        else if (node.anchor) anchors.set(node.anchor, node);
      },
    });
  }

  /**
   * Refuses an alias bomb before anything walks the tree: more than MAX_ALIASES aliases, an alias
   * inside its own anchor, or a tree whose expansion (every alias counted as a copy) has more than
   * MAX_EXPANDED_NODES nodes. Reported at the first alias; true when the document is refused.
   */
  checkAliases(root: AnyNode): boolean {
    if (this.targets.size === 0) return false;
    const first = this.targets.keys().next().value as Alias;
    if (this.targets.size > MAX_ALIASES) {
      this.error(first, `${this.targets.size} YAML aliases, more than the ${MAX_ALIASES} a rule file may use`);
      return true;
    }
    const size = new Map<Node, number>();
    const open = new Set<Node>();
    const count = (node: AnyNode): number => {
      if (!node) return 1;
      const known = size.get(node);
      if (known !== undefined) return known;
      if (open.has(node)) return Number.POSITIVE_INFINITY; // an alias inside its own anchor
      open.add(node);
      let n = 1;
      if (isAlias(node)) n = count(this.targets.get(node));
      else if (isMap(node)) for (const p of node.items) n += count(p.key as AnyNode) + count(p.value as AnyNode);
      else if (isSeq(node)) for (const i of node.items) n += count(i as AnyNode);
      open.delete(node);
      n = Math.min(n, MAX_EXPANDED_NODES + 1);
      size.set(node, n);
      return n;
    };
    const total = count(root);
    if (total === Number.POSITIVE_INFINITY) this.error(first, 'a YAML alias refers to the anchor it is inside (a cycle)');
    else if (total > MAX_EXPANDED_NODES)
      this.error(first, `YAML aliases expand this file to more than ${MAX_EXPANDED_NODES} nodes (an alias bomb?); refused, not expanded`);
    return total > MAX_EXPANDED_NODES;
  }

  posAt(offset: number): SourcePos {
    const { line, col } = this.lines.linePos(offset);
    return { file: this.file, line, col };
  }

  posOf(node: AnyNode, fallback?: SourcePos): SourcePos {
    const start = node?.range?.[0];
    return start === undefined ? (fallback ?? this.posAt(0)) : this.posAt(start);
  }

  error(at: AnyNode | SourcePos, message: string): undefined {
    const pos = at && 'line' in at ? at : this.posOf(at as AnyNode);
    this.errors.push(RuleError.at(pos, message));
    return undefined;
  }

  private readonly reportedAliases = new WeakSet<object>();

  /** Follows `*alias` to its anchor's node; an alias without anchor is reported once. */
  resolve(node: AnyNode): AnyNode {
    if (!isAlias(node)) return node;
    const target = this.targets.get(node);
    if (!target && !this.reportedAliases.has(node)) {
      this.reportedAliases.add(node);
      this.error(node, `unknown alias "*${node.source}" (an anchor "&${node.source}" must come before it)`);
    }
    return target as AnyNode;
  }

  /** True for nodes already reported as broken (an unknown alias, an unquoted `!=`), which need no second error. */
  private broken(node: AnyNode): boolean {
    if (isAlias(node)) return !this.resolve(node);
    return isScalar(node) && typeof node.tag === 'string' && !node.tag.startsWith('tag:yaml.org');
  }

  /** Describes a node for "got ..." in messages. */
  describe(node: AnyNode): string {
    const n = this.resolve(node);
    if (isMap(n)) return 'a mapping';
    if (isSeq(n)) return 'a list';
    if (isScalar(n)) {
      const v = n.value;
      if (v === null || v === undefined) return 'nothing';
      if (typeof v === 'string') return `a string ("${v}")`;
      return `a ${typeof v} (${String(v)})`;
    }
    return 'nothing';
  }

  /** The key/value pairs of a free-form mapping (keys must still be plain names). */
  pairs(node: AnyNode, what: string): { key: string; keyNode: AnyNode; value: AnyNode }[] | undefined {
    if (this.broken(node)) return undefined;
    const n = this.resolve(node);
    if (!isMap(n)) return this.error(node, `${what} must be a mapping, got ${this.describe(node)}`);
    const out: { key: string; keyNode: AnyNode; value: AnyNode }[] = [];
    for (const pair of n.items) {
      const keyNode = pair.key as AnyNode;
      const key = isScalar(keyNode) ? keyNode.value : undefined;
      if (typeof key === 'string') out.push({ key, keyNode, value: pair.value as AnyNode });
      else this.error(keyNode, `${what}: keys must be plain names, got ${this.describe(keyNode)}`);
    }
    return out;
  }

  /** Checks that node is a mapping, has no unknown keys and has every required one. */
  fields(node: AnyNode, what: string, allowed: readonly string[], required: readonly string[] = []): Fields | undefined {
    const pairs = this.pairs(node, what);
    if (!pairs) return undefined;
    const values = new Map<string, AnyNode>();
    for (const { key, keyNode, value } of pairs) {
      if (allowed.includes(key)) values.set(key, value);
      else this.error(keyNode, `unknown key "${key}" in ${what}${suggest(key, allowed)}`);
    }
    const n = this.resolve(node) as YAMLMap;
    const pos = this.posOf(n);
    for (const r of required) if (!values.has(r)) this.error(pos, `missing required field "${r}" in ${what}`);
    return { node: n, pos, has: (k) => values.has(k), get: (k) => values.get(k) };
  }

  /** A scalar's value (string, number, boolean or null), or undefined with an error. */
  scalar(node: AnyNode, what: string): string | number | boolean | null | undefined {
    if (this.broken(node)) return undefined;
    const n = this.resolve(node);
    if (this.broken(n)) return undefined;
    if (!isScalar(n)) return this.error(node, `${what} must be a single value, got ${this.describe(node)}`);
    const v = (n as Scalar).value;
    if (v === null || v === undefined) return null;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
    return this.error(node, `${what} must be a string, number or boolean, got ${this.describe(node)}`);
  }

  string(node: AnyNode, what: string): string | undefined {
    const v = this.scalar(node, what);
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v === '') return this.error(node, `${what} must be a non-empty string, got ${this.describe(node)}`);
    return v;
  }

  number(node: AnyNode, what: string, min: number, max: number, integer = false): number | undefined {
    const v = this.scalar(node, what);
    if (v === undefined) return undefined;
    const kind = integer ? 'an integer' : 'a number';
    if (typeof v !== 'number' || (integer && !Number.isInteger(v)) || v < min || v > max)
      return this.error(node, `${what} must be ${kind} from ${min} to ${max}, got ${this.describe(node)}`);
    return v;
  }

  boolean(node: AnyNode, what: string): boolean | undefined {
    const v = this.scalar(node, what);
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') return this.error(node, `${what} must be true or false, got ${this.describe(node)}`);
    return v;
  }

  /** One of a closed list of words, with a suggestion when it is not. */
  oneOf<T extends string>(node: AnyNode, what: string, words: readonly T[]): T | undefined {
    const v = this.scalar(node, what);
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || !words.includes(v as T))
      return this.error(node, `unknown ${what} "${v ?? ''}"${suggest(String(v ?? ''), words)}`);
    return v as T;
  }

  list(node: AnyNode, what: string): AnyNode[] | undefined {
    if (this.broken(node)) return undefined;
    const n = this.resolve(node);
    if (!isSeq(n)) return this.error(node, `${what} must be a list, got ${this.describe(node)}`);
    return (n as YAMLSeq).items as AnyNode[];
  }

  /**
   * Position of a character inside a string scalar, when the scalar is written
   * on one line without escapes (so source and value line up); else the
   * scalar's own position.
   */
  posInString(node: AnyNode, offset: number): SourcePos {
    const n = this.resolve(node);
    if (isScalar(n) && n.range && typeof n.value === 'string') {
      const [start, end] = n.range;
      const quote = n.type === 'QUOTE_DOUBLE' || n.type === 'QUOTE_SINGLE' ? 1 : 0;
      const raw = this.source.slice(start + quote, end - quote);
      if ((n.type === 'PLAIN' || quote) && raw === n.value) return this.posAt(start + quote + offset);
    }
    return this.posOf(n);
  }
}
