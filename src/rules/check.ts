/**
 * `xctl rules check [DIR|FILE]`: validates rule files the way the agent loads
 * them. Exit 0 valid, 1 errors in the rules, 2 usage errors.
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { loadRuleDir } from './loader';
import { defaultRulesDir } from '../package-paths';

export const RULES_HELP = `usage: xctl rules check [DIR|FILE]
  validates rule files (*.yaml, *.yml); DIR defaults to the rules/ shipped with xctl
  prints each error as file:line:col: message; exit 0 valid, 1 invalid, 2 usage error`;

export { defaultRulesDir };

/** Paths as the user would type them: relative to the working directory when that is shorter. */
function display(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith('..') && rel.length < p.length ? rel : p;
}

const parseCheckArgs = (argv: string[]) =>
  parseArgs({ args: argv, allowPositionals: true, options: { help: { type: 'boolean', short: 'h' } } });

export async function rulesCheckCommand(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseCheckArgs>;
  try {
    parsed = parseCheckArgs(argv);
  } catch (e) {
    process.stderr.write(`xctl rules check: ${(e as Error).message}\n${RULES_HELP}\n`);
    return 2;
  }
  if (parsed.values.help) {
    process.stdout.write(`${RULES_HELP}\n`);
    return 0;
  }
  if (parsed.positionals.length > 1) {
    process.stderr.write(`xctl rules check: one directory or file at most, got ${parsed.positionals.length}\n${RULES_HELP}\n`);
    return 2;
  }
  const target = parsed.positionals[0] ?? display(defaultRulesDir());
  const result = loadRuleDir(target);
  for (const e of result.errors) process.stderr.write(`${e}\n`);
  const files = `${result.files.length} file${result.files.length === 1 ? '' : 's'}`;
  if (result.errors.length) {
    process.stderr.write(`${result.errors.length} error${result.errors.length === 1 ? '' : 's'} in ${files}\n`);
    return 1;
  }
  const rules = `${result.ruleCount} rule${result.ruleCount === 1 ? '' : 's'}`;
  const disabled = result.ruleSet?.disabled.length ? ` (${result.ruleSet.disabled.length} disabled)` : '';
  process.stdout.write(`${rules} in ${files} OK${disabled}\n`);
  return 0;
}

/** `xctl rules <subcommand>`: the entry main.ts dispatches to. */
export async function rulesCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'check') return rulesCheckCommand(rest);
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    process.stdout.write(`${RULES_HELP}\n`);
    return 0;
  }
  process.stderr.write(`xctl rules: ${sub ? `unknown subcommand "${sub}"` : 'missing subcommand'}\n${RULES_HELP}\n`);
  return 2;
}
