// Bounds of the numeric arguments of agent methods, checked by the agent (any client) and by the CLI
// (which names its flag): a window or limit outside them is refused with the bound, never clamped.

export interface NumberBounds {
  /** what the number counts, for the message ("seconds") */
  unit: string;
  min: number;
  max: number;
  integer?: boolean;
}

/** `why` window in seconds: more than nothing, at most a day (the graph keeps less than that). */
export const WINDOW_SECONDS: NumberBounds = { unit: 'seconds', min: 0.1, max: 86_400 };
/** `ps` rows per reply. */
export const PS_LIMIT: NumberBounds = { unit: 'rows', min: 1, max: 10_000, integer: true };

/** The number in text, or what is wrong with it ("must be …, got …") for the caller to prefix with the name. */
export function boundedNumber(text: string, b: NumberBounds): number | string {
  const n = /^\s*[-+]?(\d+(\.\d*)?|\.\d+)(e[-+]?\d+)?\s*$/i.test(text) ? Number(text) : Number.NaN;
  if (Number.isFinite(n) && n >= b.min && n <= b.max && (!b.integer || Number.isInteger(n))) return n;
  const kind = b.integer ? 'an integer' : 'a number';
  const shown = text.length > 40 ? `${text.slice(0, 20)}…(${text.length} characters)` : text;
  return `must be ${kind} of ${b.unit} from ${b.min} to ${b.max}, got "${shown}"`;
}
