/**
 * Rule files on disk -> RuleSet, and hot reload. A reload is all or nothing:
 * one bad file means no new RuleSet, so a typo pushed to a node never
 * replaces working rules with fewer rules. The watcher keeps the old set and
 * reports the errors; `reload()` is what the agent calls on SIGHUP.
 * The first load has no old set to keep: there a bad file is reported and
 * skipped and the other files load, so a bad file never blocks a (re)start.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { RuleError } from './errors';
import { MAX_RULE_FILE_BYTES, parseRuleFile, type ParsedRuleFile } from './schema';
import { buildRuleSet, duplicateIds, type RuleSet } from './ruleset';
import type { RuleSpec } from './spec';
import { resolveScenes, type SceneRef, type SceneSpec } from './scenes';
import { defaultRulesDir } from '../package-paths';
// Kind modules declare their own graph metrics when they load: rules are checked against all of them.
import '../kinds/registry';

export interface RuleText {
  file: string;
  text: string;
  mtimeMs?: number;
}

export interface LoadResult {
  ruleSet?: RuleSet; // present only when there are no errors
  errors: RuleError[];
  files: string[];
  ruleCount: number; // rules read from valid definitions, disabled ones included
}

const RULE_FILE = /\.ya?ml$/;
/** Data tables that live beside the rules (e.g. xid-catalog.yaml): not rule files. */
const DATA_FILE = /-catalog\.ya?ml$/;

/** Validates and compiles rule texts (already read); the pure core of loading. */
export function loadRuleTexts(inputs: readonly RuleText[]): LoadResult {
  const errors: RuleError[] = [];
  const specs: RuleSpec[] = [];
  const declared: SceneSpec[] = [];
  const refs: SceneRef[] = [];
  for (const input of inputs) {
    const parsed = parseGuarded(input);
    errors.push(...parsed.errors);
    specs.push(...parsed.rules);
    declared.push(...parsed.scenes);
    refs.push(...parsed.sceneRefs);
  }
  errors.push(...duplicateIds(specs));
  const { scenes, errors: sceneErrors } = resolveScenes(specs, refs, declared, shippedScenes());
  errors.push(...sceneErrors);
  const files = inputs.map((i) => i.file);
  errors.sort((a, b) => files.indexOf(a.file) - files.indexOf(b.file) || a.line - b.line || a.col - b.col);
  if (errors.length) return { errors, files, ruleCount: specs.length };
  const source = inputs.map((i) => ({ file: i.file, mtimeMs: i.mtimeMs ?? 0 }));
  return { ruleSet: buildRuleSet(specs, source, scenes), errors, files, ruleCount: specs.length };
}

/** parseRuleFile, with anything it throws reported against the file instead of escaping to the agent. */
function parseGuarded(input: RuleText): ParsedRuleFile {
  try {
    return parseRuleFile(input.text, input.file);
  } catch (e) {
    const error = new RuleError(input.file, 1, 1, `cannot load rule file: ${(e as Error)?.message ?? String(e)}`);
    return { file: input.file, rules: [], scenes: [], sceneRefs: [], errors: [error] };
  }
}

/**
 * Loads what loads: files with errors (their own, or a duplicate id or scene they bring) are left
 * out and their errors returned; the set holds the rest (possibly no rules at all).
 */
export function loadRuleTextsSkippingBad(inputs: readonly RuleText[]): LoadResult & { skipped: string[] } {
  let kept = [...inputs];
  const errors: RuleError[] = [];
  const skipped: string[] = [];
  for (;;) {
    const result = loadRuleTexts(kept);
    if (!result.errors.length) return { ...result, errors, skipped };
    const bad = new Set(result.errors.map((e) => e.file));
    const next = kept.filter((i) => !bad.has(i.file));
    // errors naming no loaded file cannot be cured by leaving files out
    if (next.length === kept.length)
      return { errors: [...errors, ...result.errors], files: result.files, ruleCount: result.ruleCount, skipped };
    errors.push(...result.errors.filter((e) => kept.some((i) => i.file === e.file)));
    skipped.push(...kept.filter((i) => bad.has(i.file)).map((i) => i.file));
    kept = next;
  }
}

/** Reads rule files; a directory gives its *.yaml / *.yml files, sorted by name. */
export function readRuleTexts(target: string): { inputs: RuleText[]; errors: RuleError[] } {
  let files: string[];
  try {
    files = fs.statSync(target).isDirectory()
      ? fs
          .readdirSync(target)
          .filter((f) => RULE_FILE.test(f) && !DATA_FILE.test(f))
          .sort()
          .map((f) => path.join(target, f))
      : [target];
  } catch (e) {
    return { inputs: [], errors: [new RuleError(target, 1, 1, `cannot read rules: ${(e as Error).message}`)] };
  }
  if (files.length === 0) return { inputs: [], errors: [new RuleError(target, 1, 1, 'no rule files (*.yaml, *.yml) in directory')] };
  const inputs: RuleText[] = [];
  const errors: RuleError[] = [];
  for (const file of files) {
    try {
      const size = fs.statSync(file).size;
      if (size > MAX_RULE_FILE_BYTES) {
        errors.push(new RuleError(file, 1, 1, `rule file of ${size} bytes, more than the ${MAX_RULE_FILE_BYTES}-byte limit; not read`));
        continue;
      }
      inputs.push({ file, text: fs.readFileSync(file, 'utf8'), mtimeMs: fs.statSync(file).mtimeMs });
    } catch (e) {
      errors.push(new RuleError(file, 1, 1, `cannot read rule file: ${(e as Error).message}`));
    }
  }
  return { inputs, errors };
}

let shipped: Map<string, SceneSpec> | undefined;

/** The scenes the shipped rule files declare, read once: every rule set may name them. */
export function shippedScenes(): ReadonlyMap<string, SceneSpec> {
  if (shipped) return shipped;
  shipped = new Map();
  const { inputs } = readRuleTexts(defaultRulesDir()); // unreadable: only declared scenes count
  for (const i of inputs) for (const s of parseGuarded(i).scenes) if (!shipped.has(s.name)) shipped.set(s.name, s);
  return shipped;
}

/** Loads every rule file of a directory (or one file). */
export function loadRuleDir(dir: string): LoadResult {
  const { inputs, errors } = readRuleTexts(dir);
  const result = loadRuleTexts(inputs);
  if (!errors.length) return result;
  return { errors: [...errors, ...result.errors], files: result.files, ruleCount: result.ruleCount };
}

export interface RuleWatcher {
  /** Re-reads the directory now; on success the new set becomes current and onChange runs. */
  reload(): LoadResult;
  /** The active rule set: the last one that loaded without errors. */
  readonly current: RuleSet | undefined;
  close(): void;
}

export interface WatchOptions {
  debounceMs?: number; // editors write a file in several steps; wait for quiet (default 200)
}

/**
 * Loads `dir` now and again whenever a file in it changes. onChange gets each
 * new valid set (the first load included); onError gets the errors of a load
 * that failed, while the previous set stays current.
 */
export function watchRules(
  dir: string,
  onChange: (rs: RuleSet) => void,
  onError: (errs: RuleError[]) => void,
  opts: WatchOptions = {},
): RuleWatcher {
  let current: RuleSet | undefined;
  let currentHash: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let watcher: fs.FSWatcher | undefined;

  const load = (onlyIfChanged: boolean): LoadResult => {
    const { inputs, errors: readErrors } = readRuleTexts(dir);
    const hash = createHash('sha256');
    for (const i of inputs) hash.update(`${i.file}\0${i.text}\0`);
    const digest = hash.digest('hex');
    if (onlyIfChanged && !readErrors.length && digest === currentHash && current)
      return { ruleSet: current, errors: [], files: inputs.map((i) => i.file), ruleCount: current.rules.length + current.disabled.length };
    // first load: a file that cannot be read or loaded is skipped (an unreadable directory is not)
    if (!current && inputs.length > 0) {
      const partial = loadRuleTextsSkippingBad(inputs);
      const errors = [...readErrors, ...partial.errors];
      if (partial.ruleSet) {
        current = partial.ruleSet;
        currentHash = digest;
        onChange(current);
        if (errors.length) onError(errors);
        return { ...partial, errors };
      }
    }
    const result = loadRuleTexts(inputs);
    const errors = [...readErrors, ...result.errors];
    if (errors.length || !result.ruleSet) {
      onError(errors);
      return { errors, files: result.files, ruleCount: result.ruleCount };
    }
    current = result.ruleSet;
    currentHash = digest;
    onChange(current);
    return result;
  };

  const schedule = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      load(true);
    }, opts.debounceMs ?? 200);
    timer.unref();
  };

  load(false);
  try {
    watcher = fs.watch(dir, { persistent: false }, (_event, name) => {
      if (!name || RULE_FILE.test(String(name))) schedule();
    });
    watcher.on('error', (e) => onError([new RuleError(dir, 1, 1, `watching rules stopped: ${e.message}`)]));
  } catch (e) {
    onError([new RuleError(dir, 1, 1, `cannot watch rules: ${(e as Error).message}`)]);
  }

  return {
    reload: () => load(false),
    get current() {
      return current;
    },
    close() {
      if (timer) clearTimeout(timer);
      watcher?.close();
    },
  };
}
