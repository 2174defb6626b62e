/**
 * Every record kind's module, by number and by name, as the header declares
 * them: registry.gen.ts imports one module per XCTL_KINDS entry, so a kind
 * is registered by existing. Everything per kind (decoder bounds, --kind
 * choices, metrics family labels, ingest dispatch) reads these tables.
 */
import { KIND_IDS, KIND_MAX, KIND_NAMES, type KindName } from '../events/layout';
import type { Family } from '../native/addon';
import type { KindModule } from './kind';
import { KIND_MODULES } from './registry.gen';

export type { XEvent } from './registry.gen';

// biome-ignore lint/suspicious/noExplicitAny: each module has its own event type; the registry holds them all
type AnyKind = KindModule<KindName, any>;

/** Indexed by kind number; undefined where no kind has that number. */
export const KIND_BY_ID: readonly (AnyKind | undefined)[] = (() => {
  const byId = new Array<AnyKind | undefined>(KIND_MAX + 1).fill(undefined);
  for (const m of KIND_MODULES as readonly AnyKind[]) {
    const id = KIND_IDS[m.name];
    if (id === undefined || KIND_NAMES[id] !== m.name) throw new Error(`kind module "${m.name}" names no XCTL_KINDS entry`);
    byId[id] = m;
  }
  return byId;
})();

export const KIND_BY_NAME: Readonly<Record<KindName, AnyKind>> = Object.freeze(
  Object.fromEntries((KIND_MODULES as readonly AnyKind[]).map((m) => [m.name, m])) as Record<KindName, AnyKind>,
);

/** Every kind name in number order: the `--kind` choices. */
export const KIND_CHOICES: readonly KindName[] = KIND_NAMES.filter((n): n is KindName => n !== undefined);

/** The probe family that produces each kind (the `family` label of xctl_events_total). */
export const KIND_FAMILY: Readonly<Record<KindName, Family>> = Object.freeze(
  Object.fromEntries((KIND_MODULES as readonly AnyKind[]).map((m) => [m.name, m.family])) as Record<KindName, Family>,
);

/** The family of a kind name as the agent's counters carry it; undefined for a name no kind has. */
export function kindFamily(name: string): Family | undefined {
  return Object.hasOwn(KIND_FAMILY, name) ? KIND_FAMILY[name as KindName] : undefined;
}

/** The --kind choices for help text: comma-separated, wrapped before 80 columns, lines after the first indented. */
export function kindChoicesText(firstColumn: number, indent: number): string {
  const lines: string[] = [];
  let line = '';
  let col = firstColumn;
  for (const [n, name] of KIND_CHOICES.entries()) {
    const word = n < KIND_CHOICES.length - 1 ? `${name},` : name;
    if (line !== '' && col + 1 + word.length > 79) {
      lines.push(line);
      line = '';
      col = indent;
    }
    line += line === '' ? word : ` ${word}`;
    col += (line === word ? 0 : 1) + word.length;
  }
  lines.push(line);
  return lines.join(`\n${' '.repeat(indent)}`);
}
