/**
 * `matches` regular expressions run on V8's linear-time engine (the `l` flag), so no pattern can
 * backtrack catastrophically: matching costs O(pattern × subject) whatever the pattern, and a file
 * named `aaaa…a!` cannot stall the agent under `^(a+)+$`. Chosen over a load-time "safe regex"
 * heuristic (which misses cases and rejects safe patterns) and over RE2 (a new native dependency):
 * the engine ships with Node. Patterns it cannot run in linear time (back-references, lookaround)
 * are refused at load with that reason. The subject is also capped (MAX_REGEX_SUBJECT), bounding
 * the linear cost per evaluation.
 */
import * as v8 from 'node:v8';

/** characters of an attribute a `matches` condition looks at; longer values are cut to this */
export const MAX_REGEX_SUBJECT = 4096;

let engineEnabled = false;

/** The compiled pattern, or why it is refused. */
export function compileRuleRegex(source: string): RegExp | string {
  if (!engineEnabled) {
    v8.setFlagsFromString('--enable-experimental-regexp-engine');
    engineEnabled = true;
  }
  try {
    new RegExp(source);
  } catch (e) {
    return (e as Error).message;
  }
  try {
    return new RegExp(source, 'l');
  } catch {
    return 'it cannot run in linear time (back-references and lookaround are not supported in rules)';
  }
}

/** The part of a value a rule regex sees. */
export function regexSubject(v: unknown): string {
  const s = String(v);
  return s.length > MAX_REGEX_SUBJECT ? s.slice(0, MAX_REGEX_SUBJECT) : s;
}
