/**
 * Everything TypeScript knows about probe families, derived from the addon's
 * table (native/probe_set.cc, addon.families()): the names accepted, the
 * default set, and the words help text and errors use.
 */
import { loadAddon, type Family, type FamilyInfo } from './addon';

let table: readonly FamilyInfo[] | undefined;

/** The table, in load order. */
export function probeFamilies(): readonly FamilyInfo[] {
  return (table ??= Object.freeze(loadAddon().families()));
}

/** What runs when no family list is given: the agent, events, record, config show. */
export function defaultFamilies(): Family[] {
  return probeFamilies()
    .filter((f) => f.onByDefault)
    .map((f) => f.name);
}

/** The families users are told about (internal ones are accepted but not listed). */
export function advertisedFamilies(): Family[] {
  return probeFamilies()
    .filter((f) => !f.internal)
    .map((f) => f.name);
}

export function familyInfo(name: Family): FamilyInfo | undefined {
  return probeFamilies().find((f) => f.name === name);
}

/** Checks each name against the table; throws an Error naming the first unknown one. */
export function checkFamilies(names: readonly string[]): Family[] {
  for (const f of names) if (!familyInfo(f)) throw new Error(`unknown probe family "${f}" (families: ${advertisedFamilies().join(', ')})`);
  return [...names];
}

/** "net,io,proc,sched,gpu; opt-in: cuda": the defaults as help text prints them. */
export function familiesDefaultText(): string {
  const optIn = probeFamilies()
    .filter((f) => !f.onByDefault && !f.internal)
    .map((f) => f.name);
  return `${defaultFamilies().join(',')}${optIn.length ? `; opt-in: ${optIn.join(',')}` : ''}`;
}
