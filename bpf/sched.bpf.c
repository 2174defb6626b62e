/* sched family: off-CPU time. Sleeps (S and D) are measured from switch-out to
 * the wakeup, and reported at wakeup time with the waker (current at
 * sched_waking) when at least cfg.offcpu_min_ns. Run-queue delay is measured
 * from wakeup/preemption to switch-in; single waits >= cfg.runq_min_ns are
 * reported at once, shorter ones are summed per thread and reported per
 * cfg.runq_window_ns window when the sum crosses the same threshold. */
#include "common.bpf.h"

#define TASK_RUNNING 0
#define TASK_INTERRUPTIBLE 0x1
#define TASK_UNINTERRUPTIBLE 0x2
#define TASK_NOLOAD 0x400

struct wait_state {
	__u64 sleep_since_ns;
	__u64 runq_since_ns;
	__u64 win_start_ns;
	__u64 win_sum_ns;
	__u64 win_max_ns;
	__u32 win_count;
	__u8 sleep_state;
	__u8 sleep_iowait;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct wait_state);
} waits SEC(".maps");

/* Kernels without task storage (before 5.11) keep the same state keyed by tid;
 * on_exit_flush deletes it. Not created where task storage exists. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 131072);
	__type(key, __u32);
	__type(value, struct wait_state);
} waits_by_tid SEC(".maps");

static __always_inline struct wait_state *wait_state_of(struct task_struct *t, bool create)
{
	if (HAVE_TASK_STORAGE)
		return bpf_task_storage_get(&waits, t, 0, create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
	__u32 tid = BPF_CORE_READ(t, pid);
	struct wait_state *s = bpf_map_lookup_elem(&waits_by_tid, &tid);
	if (!s && create) {
		struct wait_state zero = {};
		bpf_map_update_elem(&waits_by_tid, &tid, &zero, BPF_NOEXIST);
		s = bpf_map_lookup_elem(&waits_by_tid, &tid);
	}
	return s;
}

/* Set on a CPU while an hrtimer callback runs there (hard-irq context: the
 * timer of nanosleep, poll/epoll/select timeouts, futex timeouts, timerfd): a
 * wakeup made there was not caused by the task the interrupt hit. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} in_hrtimer SEC(".maps");

static __always_inline void set_in_hrtimer(__u32 v)
{
	__u32 zero = 0;
	__u32 *f = bpf_map_lookup_elem(&in_hrtimer, &zero);
	if (f)
		*f = v;
}

SEC("tp_btf/hrtimer_expire_entry")
int BPF_PROG(on_hrtimer_entry)
{
	set_in_hrtimer(1);
	return 0;
}

SEC("tp_btf/hrtimer_expire_exit")
int BPF_PROG(on_hrtimer_exit)
{
	set_in_hrtimer(0);
	return 0;
}

static __always_inline int woken_by_hrtimer(void)
{
	__u32 zero = 0;
	__u32 *f = bpf_map_lookup_elem(&in_hrtimer, &zero);
	return f && *f;
}

static __always_inline int ignored(struct task_struct *t)
{
	if (t->pid == 0)
		return 1; /* idle */
	return cfg.skip_kthreads && (t->flags & PF_KTHREAD);
}

static __always_inline void clear_waker(struct xctl_record *r)
{
	r->off.waker_pid = r->off.waker_tid = 0;
	r->off.waker_start_ns = 0;
	__builtin_memset(r->off.waker_comm, 0, sizeof(r->off.waker_comm));
}

static __always_inline void emit_runq(struct task_struct *t, __u64 sum, __u64 max, __u32 count, __u8 flags)
{
	struct xctl_record *r = reserve_record(XCTL_KIND_OFFCPU);
	if (!r)
		return;
	fill_task(r, t);
	r->off.duration_ns = sum;
	r->off.max_ns = max;
	r->off.count = count;
	r->off.state = XCTL_OFFCPU_RUNQ;
	r->off.flags = flags;
	r->off._pad = 0;
	clear_waker(r);
	__builtin_memset(r->off._rsvd, 0, sizeof(r->off._rsvd));
	submit_record(r);
}

static __always_inline int handle_switch(struct task_struct *prev, struct task_struct *next, unsigned int prev_state)
{
	__u64 now = bpf_ktime_get_boot_ns();
	if (!ignored(prev)) {
		struct wait_state *s = wait_state_of(prev, true);
		if (s) {
			if (prev_state == TASK_RUNNING) {
				s->runq_since_ns = now; /* preempted: still runnable */
			} else if ((prev_state & (TASK_INTERRUPTIBLE | TASK_UNINTERRUPTIBLE)) && !(prev_state & TASK_NOLOAD)) {
				s->sleep_since_ns = now;
				s->sleep_state = (prev_state & TASK_UNINTERRUPTIBLE) ? XCTL_OFFCPU_BLOCKED : XCTL_OFFCPU_SLEEP;
				s->sleep_iowait = BPF_CORE_READ_BITFIELD(prev, in_iowait);
			}
		}
	}
	if (ignored(next))
		return 0;
	struct wait_state *s = wait_state_of(next, false);
	if (!s || !s->runq_since_ns)
		return 0;
	__u64 delay = now - s->runq_since_ns;
	s->runq_since_ns = 0;
	if (delay >= cfg.runq_min_ns) {
		emit_runq(next, delay, delay, 1, 0);
		return 0;
	}
	if (!s->win_start_ns)
		s->win_start_ns = now;
	s->win_sum_ns += delay;
	s->win_count++;
	if (delay > s->win_max_ns)
		s->win_max_ns = delay;
	if (now - s->win_start_ns >= cfg.runq_window_ns) {
		if (s->win_sum_ns >= cfg.runq_min_ns)
			emit_runq(next, s->win_sum_ns, s->win_max_ns, s->win_count, XCTL_OFFCPU_F_AGGREGATE);
		s->win_start_ns = now;
		s->win_sum_ns = s->win_max_ns = 0;
		s->win_count = 0;
	}
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev, struct task_struct *next, unsigned int prev_state)
{
	return handle_switch(prev, next, prev_state);
}

struct task_struct___pre514 {
	long state;
} __attribute__((preserve_access_index));

/* Before 5.18 the tracepoint has no prev_state: read the task's state as those
 * kernels' own tracepoint did (a preempted task counts as running); the field
 * was `state` before 5.14. Loaded only when on_switch fails. */
SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch__fallback, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	unsigned int state = TASK_RUNNING;
	if (!preempt && bpf_core_field_exists(prev->__state))
		state = BPF_CORE_READ(prev, __state);
	else if (!preempt)
		state = BPF_CORE_READ((struct task_struct___pre514 *)prev, state);
	return handle_switch(prev, next, state);
}

SEC("tp_btf/sched_waking")
int BPF_PROG(on_waking, struct task_struct *p)
{
	if (ignored(p))
		return 0;
	struct wait_state *s = wait_state_of(p, false);
	if (!s)
		return 0;
	__u64 now = bpf_ktime_get_boot_ns();
	s->runq_since_ns = now; /* from here it waits for a CPU */
	if (!s->sleep_since_ns)
		return 0;
	__u64 slept = now - s->sleep_since_ns;
	s->sleep_since_ns = 0;
	if (slept < cfg.offcpu_min_ns)
		return 0;
	struct xctl_record *r = reserve_record(XCTL_KIND_OFFCPU);
	if (!r)
		return 0;
	fill_task(r, p);
	r->off.duration_ns = slept;
	r->off.max_ns = slept;
	r->off.count = 1;
	r->off.state = s->sleep_state;
	r->off.flags = s->sleep_iowait ? XCTL_OFFCPU_F_IOWAIT : 0;
	r->off._pad = 0;
	__u64 waker = bpf_get_current_pid_tgid();
	if ((__u32)waker == 0 || woken_by_hrtimer()) {
		/* woken from an interrupt on an idle CPU, or by a timer expiring on top
		 * of whatever task ran there: no task caused it */
		r->off.flags |= XCTL_OFFCPU_F_WAKER_IRQ;
		clear_waker(r);
	} else {
		r->off.waker_pid = waker >> 32;
		r->off.waker_tid = (__u32)waker;
		current_ident(&r->off.waker_start_ns, r->off.waker_comm, sizeof(r->off.waker_comm));
	}
	__builtin_memset(r->off._rsvd, 0, sizeof(r->off._rsvd));
	submit_record(r);
	return 0;
}

/* A thread that exits mid-window would take its summed run-queue delay with it. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit_flush, struct task_struct *p)
{
	if (ignored(p))
		return 0;
	struct wait_state *s = wait_state_of(p, false);
	if (s && s->win_count && s->win_sum_ns >= cfg.runq_min_ns)
		emit_runq(p, s->win_sum_ns, s->win_max_ns, s->win_count, XCTL_OFFCPU_F_AGGREGATE);
	if (!HAVE_TASK_STORAGE) {
		__u32 tid = p->pid;
		bpf_map_delete_elem(&waits_by_tid, &tid); /* task storage goes with the task; this does not */
	}
	return 0;
}
