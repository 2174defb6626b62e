/**
 * What one record kind declares beside its C struct: how its fields decode
 * into the JSON event, its text line, the probe family that produces it, and
 * how it updates the causal graph. One module per kind (src/kinds/<kind>.ts,
 * named after its XCTL_KINDS entry) exports `kind = defineKind({...})`; the
 * generated registry imports them all.
 */
import type { RecordBatch } from '../events/decoder';
import type { KindName } from '../events/layout';
import type { Family } from '../native/addon';
import type { EventBase } from './event';
import type { GraphIngestor } from './ingest';

/** Graph update for record i of b at boot time t (ns); reads fields in place, allocates nothing per record. */
export type IngestHook = (ing: GraphIngestor, b: RecordBatch, i: number, t: number) => void;

export interface KindModule<N extends KindName = KindName, E extends EventBase = EventBase> {
  /** The XCTL_KINDS name in lower case (the registry checks it against the header). */
  readonly name: N;
  /** The probe family that produces it (the `family` label of xctl_events_total). */
  readonly family: Family;
  /** Record i as its JSON event: `base` (the header part, kind already set) plus the payload fields. */
  event(b: RecordBatch, i: number, base: EventBase): E;
  /** The kind-specific part of the text line. */
  text(ev: E): string;
  /** Absent: the kind carries no graph meaning (records are still counted). */
  readonly ingest?: IngestHook;
}

export type EventOf<M> = M extends KindModule<KindName, infer E> ? E : never;

/** Identity with the types checked: event() must return the event shape text() reads. */
export function defineKind<N extends KindName, E extends EventBase & { kind: N }>(m: KindModule<N, E>): KindModule<N, E> {
  return m;
}
