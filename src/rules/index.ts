/** The rule language and engine: load YAML rules, compile them, match them against the causal graph. */
export type { Agg, EdgeKind, EntityRef, EntityType, EvalContext } from './context';
export { RuleError, type SourcePos } from './errors';
export { ACTION_TYPES, AGGS, ATTR_OPS, BIND_TYPES, type Scene, type ActionType } from './vocabulary';
export type { SceneSpec, VerifySpec } from './scenes';
export { parseDuration, parseSize } from './units';
export { parseRuleFile } from './schema';
export { compileRule, compareMatches, type CompiledRule, type RuleMatch, type Evidence, type RenderedAction } from './compile';
export { buildRuleSet, type RuleSet } from './ruleset';
export { RuleMatcher, type FlushResult, type MatcherStats } from './matcher';
export { loadRuleDir, loadRuleTexts, shippedScenes, watchRules, type LoadResult, type RuleWatcher } from './loader';
export { MemoryContext } from './memory-context';
export { rulesCheckCommand, rulesCommand, defaultRulesDir } from './check';
