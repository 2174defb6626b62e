/* sched family: time off CPU, every wait accounted.
 *
 * Per thread (task storage; a hash keyed by tid before 5.11) the kernel sums
 * each state's waits (run queue: from wakeup or preemption to switch-in; S and
 * D sleeps: from switch-out to the wakeup): total, count, longest and a log2
 * histogram. One wait_total record per state carries them at the thread's
 * first switch-in after cfg.runq_window_ns (1 s), or at its exit: totals are
 * exact whatever the thresholds (there is no bpf_timer before 5.15, and the
 * next switch-in is where the thread's state is in hand anyway). A sleep of
 * cfg.offcpu_min_ns or more is also reported on its own at its wakeup, as an
 * offcpu detail record with the waker (current at sched_waking).
 *
 * With the io family on as well, cfg.io_waiters makes this object run that
 * family's waiter logic (bpf/io_waiter.bpf.h) in the same programs, and the
 * loader does not load io's own sched_switch/sched_waking programs: one
 * program per hook. */
#include "common.bpf.h"
#include "io_waiter.bpf.h"

#define TASK_RUNNING 0
#define TASK_INTERRUPTIBLE 0x1
#define TASK_UNINTERRUPTIBLE 0x2
#define TASK_NOLOAD 0x400
#define NSTATES 3 /* XCTL_OFFCPU_RUNQ, _SLEEP, _BLOCKED */

struct wait_acc {
	__u64 total_ns;
	__u64 max_ns;
	__u32 count;
	__u16 hist[XCTL_WAIT_HIST_BUCKETS];
};

struct wait_state {
	__u64 sleep_since_ns;
	__u64 runq_since_ns;
	__u64 win_start_ns; /* first wait accounted since the last flush; 0: none */
	struct wait_acc acc[NSTATES];
	__u8 sleep_state;
	__u8 sleep_iowait;
	__u8 saturated; /* bit per state: a histogram bucket is at 65535 */
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

/* log2 of the wait in microseconds: [0] < 2 us, [b] [2^b, 2^(b+1)) us, the last open-ended */
static __always_inline __u32 hist_bucket(__u64 ns)
{
	__u64 us = ns / 1000;
	__u32 b = 0;
	if (us >= (1ULL << 16)) {
		b += 16;
		us >>= 16;
	}
	if (us >= (1 << 8)) {
		b += 8;
		us >>= 8;
	}
	if (us >= (1 << 4)) {
		b += 4;
		us >>= 4;
	}
	if (us >= (1 << 2)) {
		b += 2;
		us >>= 2;
	}
	if (us >= (1 << 1))
		b += 1;
	return b;
}

static __always_inline void account(struct wait_state *s, __u32 state, __u64 ns, __u64 now)
{
	if (state >= NSTATES)
		return;
	struct wait_acc *a = &s->acc[state];
	a->total_ns += ns;
	a->count++;
	if (ns > a->max_ns)
		a->max_ns = ns;
	__u32 b = hist_bucket(ns);
	if (b >= XCTL_WAIT_HIST_BUCKETS)
		b = XCTL_WAIT_HIST_BUCKETS - 1;
	if (a->hist[b] != 0xffff)
		a->hist[b]++;
	else
		s->saturated |= 1 << state;
	if (!s->win_start_ns)
		s->win_start_ns = now;
}

/* One record per state that had waits. A record the full ring refuses is kept
 * (and counted as a drop): its waits go out with the next flush. */
static __always_inline void flush(struct task_struct *t, struct wait_state *s, __u64 now, __u8 flags)
{
	bool kept = false;
#pragma unroll
	for (__u32 i = 0; i < NSTATES; i++) {
		struct wait_acc *a = &s->acc[i];
		if (!a->count)
			continue;
		struct xctl_record *r = reserve_record(XCTL_KIND_WAIT_TOTAL);
		if (!r) {
			kept = true;
			continue;
		}
		fill_task(r, t);
		r->wt.total_ns = a->total_ns;
		r->wt.max_ns = a->max_ns;
		r->wt.window_ns = now - s->win_start_ns;
		r->wt.count = a->count;
		r->wt.state = i;
		r->wt.flags = flags | ((s->saturated >> i) & 1 ? XCTL_WAIT_F_HIST_SAT : 0);
		r->wt._pad = 0;
		__builtin_memcpy(r->wt.hist, a->hist, sizeof(r->wt.hist));
		submit_record(r);
		__builtin_memset(a, 0, sizeof(*a));
		s->saturated &= ~(1 << i);
	}
	s->win_start_ns = kept ? now : 0;
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
	if (!s)
		return 0;
	if (s->runq_since_ns) {
		account(s, XCTL_OFFCPU_RUNQ, now - s->runq_since_ns, now);
		s->runq_since_ns = 0;
	}
	if (s->win_start_ns && now - s->win_start_ns >= cfg.runq_window_ns)
		flush(next, s, now, 0);
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
	account(s, s->sleep_state, slept, now);
	if (cfg.io_waiters && s->sleep_iowait)
		io_waiter_woken(p, now - slept, now);
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
	r->off.flags = XCTL_OFFCPU_F_DETAIL | (s->sleep_iowait ? XCTL_OFFCPU_F_IOWAIT : 0);
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

/* A thread that exits mid-window would take its waits with it. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit_flush, struct task_struct *p)
{
	if (ignored(p))
		return 0;
	struct wait_state *s = wait_state_of(p, false);
	if (s && s->win_start_ns)
		flush(p, s, bpf_ktime_get_boot_ns(), XCTL_WAIT_F_EXIT);
	if (!HAVE_TASK_STORAGE) {
		__u32 tid = p->pid;
		bpf_map_delete_elem(&waits_by_tid, &tid); /* task storage goes with the task; this does not */
	}
	return 0;
}
