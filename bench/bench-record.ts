/**
 * The bench family's synthetic records (bench/bench_record.h), for the
 * TypeScript benchmark and tests: the production layout has no payload for
 * them (XCTL_KIND_SYNTHETIC). The C header asserts these offsets.
 */
import { HEADER_SIZE, KIND_SYNTHETIC } from '../src/events/layout';

/** The header kind of every bench record. */
export const BENCH_KIND = KIND_SYNTHETIC;
/** Byte offsets of the payload: u64 sequence number, u64 index within the triggering call. */
export const BENCH_SEQ_OFF = HEADER_SIZE;
export const BENCH_VALUE_OFF = HEADER_SIZE + 8;
