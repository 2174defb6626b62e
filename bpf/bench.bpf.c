/* bench family: a synthetic producer, so overload tests and benchmarks drive
 * the real ring -> addon -> JS path at a known rate. Each getpgid() call made
 * by cfg.bench_tgid emits cfg.bench_batch records with consecutive sequence
 * numbers; `produced` counts every attempt, so delivered + drops == produced. */
#include "common.bpf.h"

#if defined(__TARGET_ARCH_x86)
#define NR_getpgid 121
#elif defined(__TARGET_ARCH_arm64)
#define NR_getpgid 155
#else
#error "unsupported architecture"
#endif

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
};

static long produce_one(__u64 i, void *ctx)
{
	__u64 *counter = ((struct loop_ctx *)ctx)->counter;
	if (!counter)
		return 1;
	__u64 seq = __sync_fetch_and_add(counter, 1);
	struct xctl_record *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count_drop();
		return 0;
	}
	r->h.ts_ns = 0;
	r->h.pid = cfg.bench_tgid;
	r->h.kind = XCTL_KIND_BENCH;
	r->h.version = XCTL_RECORD_VERSION;
	r->h.flags = 0;
	r->bench.seq = seq;
	r->bench.value = i;
	bpf_ringbuf_submit(r, 0);
	return 0;
}

SEC("raw_tp/sys_enter")
int on_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) != cfg.bench_tgid || ctx->args[1] != NR_getpgid)
		return 0;
	__u32 zero = 0;
	struct loop_ctx lc = { .counter = bpf_map_lookup_elem(&produced, &zero) };
	if (lc.counter)
		bpf_loop(cfg.bench_batch, produce_one, &lc, 0);
	return 0;
}
