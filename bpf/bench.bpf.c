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

static long produce_one(__u64 i, void *ctx)
{
	__u32 zero = 0;
	__u64 *counter = bpf_map_lookup_elem(&produced, &zero);
	if (!counter)
		return 1;
	__u64 seq = __sync_fetch_and_add(counter, 1);
	struct xctl_record *r = reserve_record(XCTL_KIND_BENCH);
	if (!r)
		return 0;
	fill_current(r);
	r->bench.seq = seq;
	r->bench.value = i;
	__builtin_memset(r->bench._rsvd, 0, sizeof(r->bench._rsvd));
	bpf_ringbuf_submit(r, 0);
	return 0;
}

SEC("raw_tp/sys_enter")
int on_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) != cfg.bench_tgid || ctx->args[1] != NR_getpgid)
		return 0;
	bpf_loop(cfg.bench_batch, produce_one, 0, 0);
	return 0;
}
