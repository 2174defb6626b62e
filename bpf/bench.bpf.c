/* bench family: a synthetic producer, so overload tests and benchmarks drive
 * the real ring -> addon -> JS path at a known rate. A getpgid() call whose
 * argument is XCTL_BENCH_TRIGGER(batch) emits `batch` records (bench/bench_record.h)
 * with consecutive sequence numbers; every attempt is either delivered or
 * counted as a drop, so delivered + drops == calls x batch. */
#include "common.bpf.h"
#include "../bench/bench_record.h"

#if defined(__TARGET_ARCH_x86)
#define NR_getpgid 121
#elif defined(__TARGET_ARCH_arm64)
#define NR_getpgid 155
#else
#error "unsupported architecture"
#endif

/* Records attempted: the sequence number source (bench/ring-consumer.c reads it too). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} produced SEC(".maps");

/* Deliberately minimal: the benchmark measures the consumer, so producing a
 * record must cost as little as possible (no task/cgroup/comm reads). */
struct loop_ctx {
	__u64 *counter;
	__u32 tgid;
};

static long produce_one(__u64 i, void *ctx)
{
	struct loop_ctx *lc = ctx;
	__u64 *counter = lc->counter;
	if (!counter)
		return 1;
	__u64 seq = __sync_fetch_and_add(counter, 1);
	struct xctl_bench_record *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count_drop();
		return 0;
	}
	r->h.ts_ns = 0;
	r->h.pid = lc->tgid;
	r->h.kind = XCTL_KIND_SYNTHETIC;
	r->h.version = XCTL_RECORD_VERSION;
	r->h.flags = 0;
	r->seq = seq;
	r->value = i;
	bpf_ringbuf_submit(r, 0);
	return 0;
}

SEC("raw_tp/sys_enter")
int on_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	if (ctx->args[1] != NR_getpgid)
		return 0;
	/* the syscall's own argument carries the request: no tunables */
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
	__u32 arg = -(__s32)PT_REGS_PARM1_CORE_SYSCALL(regs);
	if ((arg & ~XCTL_BENCH_BATCH_MAX) != XCTL_BENCH_MAGIC)
		return 0;
	__u32 zero = 0;
	struct loop_ctx lc = {
		.counter = bpf_map_lookup_elem(&produced, &zero),
		.tgid = bpf_get_current_pid_tgid() >> 32,
	};
	if (lc.counter)
		bpf_loop(arg & XCTL_BENCH_BATCH_MAX, produce_one, &lc, 0);
	return 0;
}
