/* cuda family: uprobes on the CUDA and NCCL user-space libraries.
 *
 * The programs have no attach target in their section: the addon attaches each
 * one at run time to every mapped copy of its library, by path and function
 * name (bpf_program__attach_uprobe_opts with func_name), and detaches when no
 * process maps that path any more (native/uprobes.cc; discovery in
 * src/sources/gpu-libs.ts).
 *
 * - CUDA allocations (cudaMalloc, cuMemAlloc_v2...): entry stores the size per
 *   thread, return emits one cuda_alloc record with the result code, so an
 *   out-of-memory failure is seen at the call with pid and requested size.
 *   Successful allocations are emitted too: they are rare next to kernel
 *   launches (frameworks cache device memory).
 * - NCCL collectives: entry stores (time, comm, count) in nccl_inflight keyed
 *   by (thread, function); return emits an nccl_call exit record with the
 *   duration and deletes the entry. Userspace scans nccl_inflight for entries
 *   older than a threshold: collectives that entered and have not returned. */
#include "common.bpf.h"

struct alloc_slot {
	__u64 ts;
	__u64 size;
	__u64 ptrp; /* user address of the out-parameter */
};

struct nccl_slot {
	__u64 ts;           /* entry, boot ns */
	__u64 start_ns;     /* process start (pid reuse guard) */
	__u64 cgroup_id;
	__u64 comm;         /* ncclComm_t */
	__u64 count;
	__u32 pid;
	__u32 tid;
	__u32 fn;
	__u32 datatype;
	char name[XCTL_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* tid << 32 | fn */
	__type(value, struct alloc_slot);
} alloc_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* tid << 32 | fn */
	__type(value, struct nccl_slot);
} nccl_inflight SEC(".maps");

static __always_inline __u64 slot_key(__u32 fn)
{
	return ((__u64)(__u32)bpf_get_current_pid_tgid() << 32) | fn;
}

static __always_inline int alloc_enter(__u32 fn, __u64 ptrp, __u64 size)
{
	struct alloc_slot s = { .ts = bpf_ktime_get_boot_ns(), .size = size, .ptrp = ptrp };
	__u64 key = slot_key(fn);
	bpf_map_update_elem(&alloc_slots, &key, &s, BPF_ANY);
	return 0;
}

static __always_inline int alloc_exit(__u32 fn, long ret)
{
	__u64 key = slot_key(fn);
	struct alloc_slot *s = bpf_map_lookup_elem(&alloc_slots, &key);
	if (!s)
		return 0;
	struct xctl_record *r = reserve_record(XCTL_KIND_CUDA_ALLOC);
	if (r) {
		fill_current(r);
		r->cuda.fn = fn;
		r->cuda.result = (__s32)ret;
		r->cuda.size = s->size;
		r->cuda.latency_ns = r->h.ts_ns - s->ts;
		r->cuda.ptr = 0;
		if (ret == 0 && s->ptrp)
			bpf_probe_read_user(&r->cuda.ptr, sizeof(r->cuda.ptr), (void *)s->ptrp);
		submit_record(r);
	}
	bpf_map_delete_elem(&alloc_slots, &key);
	return 0;
}

/* cudaError_t cudaMalloc(void **devPtr, size_t size) */
SEC("uprobe")
int BPF_KPROBE(cuda_malloc_enter, void **devptr, __u64 size) { return alloc_enter(XCTL_CUDA_FN_CUDA_MALLOC, (__u64)devptr, size); }
SEC("uretprobe")
int BPF_KRETPROBE(cuda_malloc_exit, long ret) { return alloc_exit(XCTL_CUDA_FN_CUDA_MALLOC, ret); }

/* CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize) */
SEC("uprobe")
int BPF_KPROBE(cu_mem_alloc_enter, void *dptr, __u64 size) { return alloc_enter(XCTL_CUDA_FN_CU_MEM_ALLOC, (__u64)dptr, size); }
SEC("uretprobe")
int BPF_KRETPROBE(cu_mem_alloc_exit, long ret) { return alloc_exit(XCTL_CUDA_FN_CU_MEM_ALLOC, ret); }

/* cudaError_t cudaMallocManaged(void **devPtr, size_t size, unsigned flags) */
SEC("uprobe")
int BPF_KPROBE(cuda_malloc_managed_enter, void **devptr, __u64 size) { return alloc_enter(XCTL_CUDA_FN_CUDA_MALLOC_MANAGED, (__u64)devptr, size); }
SEC("uretprobe")
int BPF_KRETPROBE(cuda_malloc_managed_exit, long ret) { return alloc_exit(XCTL_CUDA_FN_CUDA_MALLOC_MANAGED, ret); }

static __always_inline int nccl_enter(__u32 fn, __u64 count, __u32 datatype, __u64 comm)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct nccl_slot s = {
		.ts = bpf_ktime_get_boot_ns(),
		.cgroup_id = bpf_get_current_cgroup_id(),
		.comm = comm,
		.count = count,
		.pid = id >> 32,
		.tid = (__u32)id,
		.fn = fn,
		.datatype = datatype,
	};
	current_ident(&s.start_ns, s.name, sizeof(s.name));
	__u64 key = slot_key(fn);
	bpf_map_update_elem(&nccl_inflight, &key, &s, BPF_ANY);
	return 0;
}

static __always_inline int nccl_exit(__u32 fn, long ret)
{
	__u64 key = slot_key(fn);
	struct nccl_slot *s = bpf_map_lookup_elem(&nccl_inflight, &key);
	if (!s)
		return 0;
	struct xctl_record *r = reserve_record(XCTL_KIND_NCCL_CALL);
	if (r) {
		fill_current(r);
		r->nccl.fn = fn;
		r->nccl.phase = XCTL_NCCL_EXIT;
		r->nccl.duration_ns = r->h.ts_ns - s->ts;
		r->nccl.comm = s->comm;
		r->nccl.count = s->count;
		r->nccl.datatype = s->datatype;
		r->nccl.result = (__s32)ret;
		submit_record(r);
	}
	bpf_map_delete_elem(&nccl_inflight, &key);
	return 0;
}

/* The 6th integer argument: BPF_KPROBE of this libbpf takes 5. */
#if defined(__TARGET_ARCH_x86)
#define ARG6(ctx) ((ctx)->r9)
#elif defined(__TARGET_ARCH_arm64)
#define ARG6(ctx) (((struct user_pt_regs *)(ctx))->regs[5])
#endif

/* ncclResult_t ncclAllReduce(sendbuff, recvbuff, count, datatype, op, comm, stream) */
SEC("uprobe")
int nccl_allreduce_enter(struct pt_regs *ctx) { return nccl_enter(XCTL_NCCL_FN_ALLREDUCE, PT_REGS_PARM3(ctx), PT_REGS_PARM4(ctx), ARG6(ctx)); }
SEC("uretprobe")
int BPF_KRETPROBE(nccl_allreduce_exit, long ret) { return nccl_exit(XCTL_NCCL_FN_ALLREDUCE, ret); }

/* ncclResult_t ncclBroadcast(sendbuff, recvbuff, count, datatype, root, comm, stream) */
SEC("uprobe")
int nccl_broadcast_enter(struct pt_regs *ctx) { return nccl_enter(XCTL_NCCL_FN_BROADCAST, PT_REGS_PARM3(ctx), PT_REGS_PARM4(ctx), ARG6(ctx)); }
SEC("uretprobe")
int BPF_KRETPROBE(nccl_broadcast_exit, long ret) { return nccl_exit(XCTL_NCCL_FN_BROADCAST, ret); }

/* ncclResult_t ncclAllGather(sendbuff, recvbuff, sendcount, datatype, comm, stream) */
SEC("uprobe")
int BPF_KPROBE(nccl_allgather_enter, void *s, void *r, __u64 count, int dt, void *comm) { return nccl_enter(XCTL_NCCL_FN_ALLGATHER, count, dt, (__u64)comm); }
SEC("uretprobe")
int BPF_KRETPROBE(nccl_allgather_exit, long ret) { return nccl_exit(XCTL_NCCL_FN_ALLGATHER, ret); }

/* ncclResult_t ncclReduceScatter(sendbuff, recvbuff, recvcount, datatype, op, comm, stream) */
SEC("uprobe")
int nccl_reducescatter_enter(struct pt_regs *ctx) { return nccl_enter(XCTL_NCCL_FN_REDUCESCATTER, PT_REGS_PARM3(ctx), PT_REGS_PARM4(ctx), ARG6(ctx)); }
SEC("uretprobe")
int BPF_KRETPROBE(nccl_reducescatter_exit, long ret) { return nccl_exit(XCTL_NCCL_FN_REDUCESCATTER, ret); }

/* ncclResult_t ncclGroupEnd(void): where grouped collectives actually block */
SEC("uprobe")
int BPF_KPROBE(nccl_group_end_enter) { return nccl_enter(XCTL_NCCL_FN_GROUP_END, 0, 0, 0); }
SEC("uretprobe")
int BPF_KRETPROBE(nccl_group_end_exit, long ret) { return nccl_exit(XCTL_NCCL_FN_GROUP_END, ret); }
