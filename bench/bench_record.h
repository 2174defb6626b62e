/* The benchmark producer's records: bench/ only, not part of the production ABI.
 *
 * bench.bpf.c (the internal `bench` probe family) emits these into its ring when
 * any process calls getpgid(XCTL_BENCH_TRIGGER(batch)): `batch` records per call,
 * with consecutive sequence numbers. The argument is a pid no process has
 * (negative), so the syscall fails at once and the trigger needs no tunable.
 * The header kind is XCTL_KIND_SYNTHETIC, the number bpf/xctl_record.h reserves
 * for synthetic test records: production code knows no payload for it.
 * Read by bench.bpf.c, bench/producer.c, bench/ring-consumer.c and, through the
 * offsets in bench/bench-record.ts, by the TypeScript benchmark and tests.
 */
#ifndef XCTL_BENCH_RECORD_H
#define XCTL_BENCH_RECORD_H

#include "../bpf/xctl_record.h"

struct xctl_bench_record {
	struct xctl_hdr h;          /* kind XCTL_KIND_SYNTHETIC; pid = the producer */
	__u64 seq;                  /* 56 sequence number, per loaded bench object */
	__u64 value;                /* 64 index within the triggering call */
	__u8 _rsvd[56];             /* 72 */
};

_Static_assert(sizeof(struct xctl_bench_record) == XCTL_RECORD_SIZE, "a bench record is one xctl record");
_Static_assert(__builtin_offsetof(struct xctl_bench_record, seq) == 56, "bench-record.ts reads seq at 56");
_Static_assert(__builtin_offsetof(struct xctl_bench_record, value) == 64, "bench-record.ts reads value at 64");

/* getpgid() argument that asks for `batch` records (1..XCTL_BENCH_BATCH_MAX). */
#define XCTL_BENCH_MAGIC 0x42450000u    /* "BE" in the upper 16 bits */
#define XCTL_BENCH_BATCH_MAX 0xffffu
#define XCTL_BENCH_TRIGGER(batch) (-(int)(XCTL_BENCH_MAGIC | ((batch) & XCTL_BENCH_BATCH_MAX)))

#endif
