/**
 * The README tables generated from their one declaration: probe families
 * (the addon's table) and config keys (CONFIG_KEYS). test/families.test.ts
 * fails when README.md drifts; `node dist/src/cli/doc-tables.js` rewrites them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CONFIG_KEYS, displayValue } from '../config/config';
import { probeFamilies } from '../native/families';

const code = (s: string) => `\`${s}\``;

export function familiesTable(): string {
  const rows = probeFamilies()
    .filter((f) => !f.internal)
    .map(
      (f) =>
        `| ${f.name} | ${f.source} | ${f.object ? code(`bpf/${f.object.replace(/\.o$/, '.c')}`) : ''} | ${f.onByDefault ? 'yes' : 'opt-in'} | ${f.description} |`,
    );
  return ['| family | source | BPF object | on by default | what it answers |', '|---|---|---|---|---|', ...rows].join('\n');
}

export function configKeysTable(): string {
  const rows = CONFIG_KEYS.map((k) => {
    const v = displayValue(k, k.default());
    const d = k.defaultText ? k.defaultText() : typeof v === 'string' ? v : JSON.stringify(v);
    return `| ${code(k.key)} | ${k.env ? code(k.env) : ''} | ${k.flag ? code(k.flag + (k.arg ? ` ${k.arg}` : '')) : ''} | ${code(d)} | ${k.doc.replace(/\|/g, '\\|')} |`;
  });
  return ['| key | env | flag | default | meaning |', '|---|---|---|---|---|', ...rows].join('\n');
}

export const GENERATED: Record<string, () => string> = { families: familiesTable, 'config-keys': configKeysTable };

const begin = (name: string) => `<!-- generated: ${name} (node dist/src/cli/doc-tables.js) -->`;
const end = (name: string) => `<!-- end generated: ${name} -->`;

/** The text between the markers of `name`, or undefined when the markers are missing. */
export function generatedSection(text: string, name: string): string | undefined {
  const i = text.indexOf(begin(name));
  const j = text.indexOf(end(name));
  return i < 0 || j < i ? undefined : text.slice(i + begin(name).length, j).trim();
}

export function rewrite(text: string): string {
  let out = text;
  for (const [name, table] of Object.entries(GENERATED)) {
    const i = out.indexOf(begin(name));
    const j = out.indexOf(end(name));
    if (i < 0 || j < i) throw new Error(`README: markers for "${name}" missing`);
    out = `${out.slice(0, i + begin(name).length)}\n${table()}\n${out.slice(j)}`;
  }
  return out;
}

export const README = path.resolve(__dirname, '../../../README.md');

if (require.main === module) fs.writeFileSync(README, rewrite(fs.readFileSync(README, 'utf8')));
