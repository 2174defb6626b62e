/* net family: TCP retransmits attributed to the socket's owning process.
 *
 * tcp_retransmit_skb runs in softirq/timer context, so `current` is not the
 * owner. Process-context hooks (sendmsg, connect) record sk -> owner; the
 * retransmit handler reads it from there. Sockets seen only after the agent
 * started but never written since get XCTL_F_NO_OWNER and the socket inode,
 * which userspace resolves through /proc/<pid>/fd.
 *
 * Aggregation: the first retransmit of a burst is emitted at once; further ones
 * within cfg.tcp_flush_ns are summed and flushed by a per-socket bpf_timer.
 * Kernels without bpf_timer (5.15) or BPF atomic exchange (5.12) load the
 * `__fallback` programs instead: every retransmit is emitted at once, so the
 * evidence is the same and only the record count grows. */
#include "common.bpf.h"

#define AF_INET 2
#define AF_INET6 10
#define TCP_SYN_SENT 2
#define TCP_CLOSE 7
#define CLOCK_MONOTONIC 1

struct owner {
	__u64 start_ns;
	__u64 cgroup_id;
	__u32 pid;
	__u32 tid;
	char comm[XCTL_COMM_LEN];
};

struct sock_state {
	struct owner o;
	struct bpf_timer flush;
	__u64 last_emit_ns;
	__u64 first_pending_ns;
	__u32 pending_count;
	__u32 pending_segs;
	__u64 sock_ino;
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport, dport, family;
	__u8 state;
	__u8 timer_ready;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64); /* struct sock * */
	__type(value, struct sock_state);
} sockets SEC(".maps");

static __always_inline void set_owner_current(struct sock *sk)
{
	__u64 key = (__u64)sk;
	__u64 id = bpf_get_current_pid_tgid();
	struct sock_state *s = bpf_map_lookup_elem(&sockets, &key);
	if (s && s->o.pid == (id >> 32))
		return; /* hot path: owner unchanged */
	struct owner o;
	if (current_ident(&o.start_ns, o.comm, sizeof(o.comm)) & PF_KTHREAD)
		return;
	if (!s) {
		struct sock_state zero = {};
		bpf_map_update_elem(&sockets, &key, &zero, BPF_NOEXIST);
		s = bpf_map_lookup_elem(&sockets, &key);
		if (!s)
			return;
	}
	o.pid = id >> 32;
	o.tid = (__u32)id;
	o.cgroup_id = bpf_get_current_cgroup_id();
	s->o = o;
}

static __always_inline void emit(struct sock_state *s, __u64 skaddr, __u32 count, __u32 segs, __u64 first_ts)
{
	struct xctl_record *r = reserve_record(XCTL_KIND_TCP_RETRANSMIT);
	if (!r)
		return;
	r->h.pid = s->o.pid;
	r->h.tid = s->o.tid;
	r->h.start_ns = s->o.start_ns;
	r->h.cgroup_id = s->o.cgroup_id;
	__builtin_memcpy(r->h.comm, s->o.comm, sizeof(r->h.comm));
	if (!s->o.pid)
		r->h.flags |= XCTL_F_NO_OWNER;
	__builtin_memcpy(r->tcp.saddr, s->saddr, 16);
	__builtin_memcpy(r->tcp.daddr, s->daddr, 16);
	r->tcp.sport = s->sport;
	r->tcp.dport = s->dport;
	r->tcp.family = s->family;
	r->tcp.state = s->state;
	r->tcp.owner_src = s->o.pid ? XCTL_OWNER_KERNEL : XCTL_OWNER_NONE;
	r->tcp.count = count;
	r->tcp.segs = segs;
	r->tcp.sock_ino = s->sock_ino;
	r->tcp.first_ts_ns = first_ts;
	r->tcp.skaddr = skaddr;
	submit_record(r);
}

static __always_inline void flush_pending(struct sock_state *s, __u64 key)
{
	__u32 n = __sync_lock_test_and_set(&s->pending_count, 0);
	__u32 segs = __sync_lock_test_and_set(&s->pending_segs, 0);
	/* A retransmit on another CPU can land between the two exchanges: its
	 * count then goes out now and its segments with the next flush, or the
	 * other way round. Emit when either is non-zero (a record may say 0
	 * retransmits and N segments), so no segment is ever dropped. */
	if (n || segs) {
		emit(s, key, n, segs, s->first_pending_ns);
		s->last_emit_ns = bpf_ktime_get_boot_ns();
	}
}

static int flush_cb(void *map, __u64 *key, struct sock_state *s)
{
	flush_pending(s, *key);
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(on_send, struct sock *sk, int ret, int flags)
{
	if (sk && sk->__sk_common.skc_family != AF_INET && sk->__sk_common.skc_family != AF_INET6)
		return 0;
	if (sk && sk->sk_protocol == 6 /* IPPROTO_TCP */)
		set_owner_current(sk);
	return 0;
}

static __always_inline int handle_state(const struct sock *sk, int newstate, bool aggregated)
{
	if (sk->sk_protocol != 6)
		return 0;
	__u64 key = (__u64)sk;
	if (newstate == TCP_SYN_SENT) { /* connect(): process context */
		set_owner_current((struct sock *)sk);
	} else if (newstate == TCP_CLOSE) {
		struct sock_state *s = aggregated ? bpf_map_lookup_elem(&sockets, &key) : 0;
		if (s)
			flush_pending(s, key); /* deleting cancels the timer: flush what it would have */
		bpf_map_delete_elem(&sockets, &key);
	}
	return 0;
}

/* Before 6.3 there is no sock_send_length: the owner is who reads the socket.
 * tcp_rcv_space_adjust runs from recvmsg in process context, once per call (a
 * hash lookup when the owner is unchanged, as on_send); with connect() below
 * and /proc at retransmit time it covers both ends of a connection. */
SEC("tp_btf/tcp_rcv_space_adjust")
int BPF_PROG(on_send__fallback, struct sock *sk)
{
	if (sk->__sk_common.skc_family != AF_INET && sk->__sk_common.skc_family != AF_INET6)
		return 0;
	set_owner_current(sk);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_state, const struct sock *sk, const int oldstate, const int newstate)
{
	return handle_state(sk, newstate, true);
}

/* Before 5.12 (no atomic exchange, so no aggregation): nothing is ever pending. */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_state__fallback, const struct sock *sk, const int oldstate, const int newstate)
{
	return handle_state(sk, newstate, false);
}

static __always_inline int handle_retransmit(const struct sock *sk, const struct sk_buff *skb, bool aggregated)
{
	__u64 key = (__u64)sk;
	struct sock_state *s = bpf_map_lookup_elem(&sockets, &key);
	if (!s) {
		struct sock_state zero = {};
		bpf_map_update_elem(&sockets, &key, &zero, BPF_NOEXIST);
		s = bpf_map_lookup_elem(&sockets, &key);
		if (!s) {
			count_drop();
			return 0;
		}
	}
	/* refresh the tuple: cheap, and the state changes over the socket's life */
	__u16 family = sk->__sk_common.skc_family;
	s->family = family;
	s->sport = sk->__sk_common.skc_num;
	s->dport = bpf_ntohs(sk->__sk_common.skc_dport);
	s->state = sk->__sk_common.skc_state;
	if (family == AF_INET6) {
		BPF_CORE_READ_INTO(&s->saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&s->daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	} else {
		__builtin_memset(s->saddr, 0, 16);
		__builtin_memset(s->daddr, 0, 16);
		__u32 a = sk->__sk_common.skc_rcv_saddr, b = sk->__sk_common.skc_daddr;
		__builtin_memcpy(s->saddr, &a, 4);
		__builtin_memcpy(s->daddr, &b, 4);
	}
	if (!s->sock_ino) {
		struct socket *so = BPF_CORE_READ(sk, sk_socket);
		if (so)
			s->sock_ino = BPF_CORE_READ(so, file, f_inode, i_ino);
	}
	/* one skb may carry several segments (TSO/GSO). RetransSegs adds
	 * tcp_skb_pcount(skb) = TCP_SKB_CB(skb)->tcp_gso_segs: read exactly that. */
	struct tcp_skb_cb *tcb = (struct tcp_skb_cb *)skb->cb;
	__u32 segs = BPF_CORE_READ(tcb, tcp_gso_segs);
	if (segs == 0)
		segs = 1;

	__u64 now = bpf_ktime_get_boot_ns();
	if (!aggregated || (now - s->last_emit_ns >= cfg.tcp_flush_ns && s->pending_count == 0)) {
		s->last_emit_ns = now; /* first of a burst: out immediately */
		emit(s, key, 1, segs, now);
		return 0;
	}
	if (__sync_fetch_and_add(&s->pending_count, 1) == 0)
		s->first_pending_ns = now;
	__sync_fetch_and_add(&s->pending_segs, segs);
	if (!s->timer_ready) {
		bpf_timer_init(&s->flush, &sockets, CLOCK_MONOTONIC); /* -EBUSY if already done: fine */
		bpf_timer_set_callback(&s->flush, flush_cb);
		s->timer_ready = 1;
	}
	/* fire at the end of the current interval; re-arming an armed timer just moves it */
	__u64 due = s->last_emit_ns + cfg.tcp_flush_ns;
	bpf_timer_start(&s->flush, due > now ? due - now : 0, 0);
	return 0;
}

/* Since 6.13 the tracepoint also fires when a retransmit does not go out, and
 * says why in `err`. RetransSegs is added after the early exits of
 * __tcp_retransmit_skb (still in the host queue -EBUSY, trim/split/unclone
 * -ENOMEM, -EINVAL, no route -EHOSTUNREACH, window closed -EAGAIN) and before
 * the transmit itself, so a transmit that then fails (a local drop, -ENOBUFS,
 * -EPERM from netfilter) is counted by the kernel: we count what it counts.
 * (A route lost between the two checks also gives -EHOSTUNREACH: not counted.) */
#define XCTL_EAGAIN 11
#define XCTL_ENOMEM 12
#define XCTL_EBUSY 16
#define XCTL_EINVAL 22
#define XCTL_EHOSTUNREACH 113
static __always_inline bool counted_as_retransmit(int err)
{
	return err == 0 || !(err == -XCTL_EBUSY || err == -XCTL_ENOMEM || err == -XCTL_EINVAL || err == -XCTL_EHOSTUNREACH ||
			     err == -XCTL_EAGAIN);
}

/* Kernels before 6.13 have two arguments and fire only on success. The event
 * record gained `err` in the same change: that is the feature check. The read
 * is volatile so the compiler cannot hoist it out of the branch the verifier
 * drops on older kernels (a third argument does not exist there). */
static __always_inline bool counted(unsigned long long *ctx)
{
	if (!bpf_core_field_exists(struct trace_event_raw_tcp_retransmit_skb, err))
		return true;
	return counted_as_retransmit((int)*(volatile unsigned long long *)&ctx[2]);
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(on_retransmit, const struct sock *sk, const struct sk_buff *skb)
{
	if (!counted(ctx))
		return 0;
	return handle_retransmit(sk, skb, true);
}

/* Without bpf_timer (5.15) or atomic exchange (5.12): no aggregation. The
 * loader uses a `__fallback` program only if its primary fails to load. */
SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(on_retransmit__fallback, const struct sock *sk, const struct sk_buff *skb)
{
	if (!counted(ctx))
		return 0;
	return handle_retransmit(sk, skb, false);
}
