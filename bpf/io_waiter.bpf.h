/* The io family's waiter record, shared by io.bpf.c (its own sched_switch /
 * sched_waking programs, when the sched family is off) and sched.bpf.c (one
 * program per hook when both families are on; the loader then gives both
 * objects the same `completing` map and sets cfg.io_waiters).
 *
 * block_rq_complete notes what this CPU is completing; the wakeup of the task
 * sleeping in io_schedule() comes right after, in the same CPU context, and
 * gets a record with the right pid and the latency the process saw. */
#ifndef XCTL_IO_WAITER_BPF_H
#define XCTL_IO_WAITER_BPF_H

#define COMPLETION_WINDOW_NS 2000000ULL

/* What the CPU is completing right now: read by the wakeup hook. */
struct rq_done {
	__u64 ts_ns;
	__u64 sector;
	__u64 device_ns;
	__u32 dev;
	__u32 bytes;
	__u32 issuer_pid;
	__s32 error;
	__u16 flags;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rq_done);
} completing SEC(".maps");

/* p, asleep in io_schedule() since `since`, is being woken at `now`. */
static __always_inline void io_waiter_woken(struct task_struct *p, __u64 since, __u64 now)
{
	__u32 zero = 0;
	struct rq_done *c = bpf_map_lookup_elem(&completing, &zero);
	if (!c || !c->ts_ns || now - c->ts_ns > COMPLETION_WINDOW_NS)
		return; /* not woken by a block completion */
	if (c->issuer_pid == p->tgid)
		return; /* the request record already names this process */
	__u64 lat = now - since;
	if (!c->error && lat < cfg.io_min_latency_ns)
		return;
	struct xctl_record *r = reserve_record(XCTL_KIND_BLOCK_IO);
	if (!r)
		return;
	fill_task(r, p);
	r->io.dev = c->dev;
	r->io.bytes = c->bytes;
	r->io.sector = c->sector;
	r->io.latency_ns = lat;
	r->io.device_ns = c->device_ns;
	r->io.error = c->error;
	r->io.flags = c->flags | XCTL_IO_F_WAITER;
	r->io._pad = 0;
	__builtin_memset(r->io._rsvd, 0, sizeof(r->io._rsvd));
	submit_record(r);
}

#endif
