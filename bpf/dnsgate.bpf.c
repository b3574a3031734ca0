// SPDX-License-Identifier: Apache-2.0
/*
 * dnsgate tc programs, attached with clsact to the HOST side of each local pod's veth:
 *   dnsgate_from_pod (tc ingress hook) judges packets from the pod  = the pod's egress,
 *   dnsgate_to_pod   (tc egress hook)  judges packets to the pod    = the pod's ingress.
 * bpf/README.md states the decision algorithm; dnsgate_layout.h the maps' contents.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "dnsgate_layout.h"

#ifndef DG_PIN
#define DG_PIN LIBBPF_PIN_BY_NAME
#endif

#define NS_PER_S 1000000000ULL

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DG_MAX_ENDPOINTS);
	__type(key, __u32);
	__type(value, struct dg_endpoint);
	__uint(pinning, DG_PIN);
} dg_endpoints SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, DG_POLICY_V4_MAX);
	__type(key, struct dg_policy_key_v4);
	__type(value, struct dg_rule_list);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, DG_PIN);
} dg_policy_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, DG_POLICY_V6_MAX);
	__type(key, struct dg_policy_key_v6);
	__type(value, struct dg_rule_list);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, DG_PIN);
} dg_policy_v6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DG_LEARNED_MAX);
	__type(key, struct dg_learned_key);
	__type(value, struct dg_learned_value);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, DG_PIN);
} dg_learned SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, DG_CT_MAX);
	__type(key, struct dg_ct_key);
	__type(value, struct dg_ct_value);
	__uint(pinning, DG_PIN);
} dg_ct SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DG_MAX_ENDPOINTS * 2);
	__type(key, __u32);
	__type(value, struct dg_counters);
	__uint(pinning, DG_PIN);
} dg_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, DG_EVENTS_BYTES);
	__uint(pinning, DG_PIN);
} dg_events SEC(".maps");

/* The ring buffer map cannot name its record type, so this never-loaded section does, putting
 * struct dg_event into the object's BTF for user space (and the layout test) to read. */
struct dg_event dg_event_btf_anchor SEC(".btf_anchors") __attribute__((unused));

/* What parsing found out about a packet. */
enum pkt_kind {
	PKT_PASS = 0,      /* not ours to judge: non-IP, non-first fragment, NDP/MLD */
	PKT_FLOW = 1,      /* an IP packet with its tuple in `t` */
	PKT_MALFORMED = 2, /* claims to be IP but its headers cannot be read */
};

/* A packet's addresses and ports as they appear on the wire. */
struct tuple {
	__u8 saddr[16]; /* first, and the struct 8-aligned, so addresses compare as words */
	__u8 daddr[16];
	__u16 sport; /* ICMP echo request: the id; echo reply: 0 */
	__u16 dport; /* ICMP echo request: 0; echo reply: the id */
	__u8 family;
	__u8 proto;
} __attribute__((aligned(8)));

struct pkt {
	struct tuple t;
	struct tuple inner; /* ICMP errors: the embedded packet */
	__u8 has_ports;         /* TCP/UDP/SCTP: rules with ports can match */
	__u8 icmp_error;
};

#define IP4_HLEN 20
#define IP6_HLEN 40
#define IPPROTO_ICMPV6_ 58

/* Copies len bytes at off: straight from the linear packet data when they are there (always for
 * headers the local stack built), else through the helper (paged or odd packets). */
static __always_inline int load(struct __sk_buff *skb, __u32 off, void *to, const __u32 len)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;

	if (off < 512) {
		void *p = data + (off & 511);
		if (p + len <= data_end) {
			__builtin_memcpy(to, p, len);
			return 0;
		}
	}
	return bpf_skb_load_bytes(skb, off, to, len);
}

/* Reads the first 4 bytes of an L4 header into sport/dport (ports or ICMP id). */
static __always_inline int read_l4(struct __sk_buff *skb, __u32 off, __u8 family, struct tuple *t,
				   __u8 *has_ports, __u8 *icmp_error, __u8 *icmp_type_out)
{
	__u8 b[8];

	*has_ports = 0;
	*icmp_error = 0;
	switch (t->proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_SCTP: {
		__u16 p[2];
		if (load(skb, off, p, 4) < 0)
			return -1;
		t->sport = bpf_ntohs(p[0]);
		t->dport = bpf_ntohs(p[1]);
		*has_ports = 1;
		return 0;
	}
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6_: {
		if (load(skb, off, b, 8) < 0)
			return -1;
		__u8 type = b[0];
		__u16 id = ((__u16)b[4] << 8) | b[5];
		*icmp_type_out = type;
		if (family == DG_FAMILY_V4) {
			if (type == 8) {
				t->sport = id;
			} else if (type == 0) {
				t->dport = id;
			} else if (type == 3 || type == 4 || type == 11 || type == 12) {
				*icmp_error = 1;
			}
		} else {
			if (type == 128) {
				t->sport = id;
			} else if (type == 129) {
				t->dport = id;
			} else if (type >= 1 && type <= 4) {
				*icmp_error = 1;
			}
		}
		return 0;
	}
	default:
		return 0;
	}
}

/* Parses the packet embedded in an ICMP error (outer L4 at `off`). Failure only means "not
 * related"; the error is then judged as plain ICMP. */
static __always_inline int parse_inner(struct __sk_buff *skb, __u32 off, __u8 family, struct tuple *in)
{
	__u8 h[IP6_HLEN];
	__u8 has_ports, icmp_error, type;

	off += 8;
	in->family = family;
	if (family == DG_FAMILY_V4) {
		if (load(skb, off, h, IP4_HLEN) < 0)
			return -1;
		__u32 ihl = (h[0] & 0xf) * 4;
		if ((h[0] >> 4) != 4 || ihl < IP4_HLEN)
			return -1;
		in->proto = h[9];
		__builtin_memcpy(in->saddr, &h[12], 4);
		__builtin_memcpy(in->daddr, &h[16], 4);
		off += ihl;
	} else {
		if (load(skb, off, h, IP6_HLEN) < 0)
			return -1;
		if ((h[0] >> 4) != 6)
			return -1;
		in->proto = h[6];
		__builtin_memcpy(in->saddr, &h[8], 16);
		__builtin_memcpy(in->daddr, &h[24], 16);
		off += IP6_HLEN;
	}
	/* The embedded packet is usually cut short; ports are in its first 8 bytes. */
	if (read_l4(skb, off, family, in, &has_ports, &icmp_error, &type) < 0)
		return -1;
	return 0;
}

static __always_inline int parse(struct __sk_buff *skb, struct pkt *p)
{
	__u16 eth_proto;
	__u32 off = ETH_HLEN;
	__u8 icmp_type = 0;

	if (load(skb, 12, &eth_proto, 2) < 0)
		return PKT_PASS;
	if (eth_proto == bpf_htons(ETH_P_IP)) {
		__u8 h[IP4_HLEN];
		if (load(skb, off, h, IP4_HLEN) < 0)
			return PKT_MALFORMED;
		__u32 ihl = (h[0] & 0xf) * 4;
		if ((h[0] >> 4) != 4 || ihl < IP4_HLEN)
			return PKT_MALFORMED;
		/* Non-first fragments carry no L4 header; the first one was judged, and without it the
		 * receiver cannot reassemble, so they pass. */
		if ((((__u16)h[6] << 8) | h[7]) & 0x1fff)
			return PKT_PASS;
		p->t.family = DG_FAMILY_V4;
		p->t.proto = h[9];
		__builtin_memcpy(p->t.saddr, &h[12], 4);
		__builtin_memcpy(p->t.daddr, &h[16], 4);
		off += ihl;
	} else if (eth_proto == bpf_htons(ETH_P_IPV6)) {
		__u8 h[IP6_HLEN];
		if (load(skb, off, h, IP6_HLEN) < 0)
			return PKT_MALFORMED;
		if ((h[0] >> 4) != 6)
			return PKT_MALFORMED;
		p->t.family = DG_FAMILY_V6;
		__u8 nh = h[6];
		__builtin_memcpy(p->t.saddr, &h[8], 16);
		__builtin_memcpy(p->t.daddr, &h[24], 16);
		off += IP6_HLEN;
		/* Walk the extension headers a packet can carry before its L4 header. */
#pragma unroll
		for (int i = 0; i < 6; i++) {
			__u8 x[4];
			if (nh != 0 && nh != 43 && nh != 44 && nh != 60 && nh != 51)
				break;
			if (load(skb, off, x, 4) < 0)
				return PKT_MALFORMED;
			if (nh == 44) {
				if (((((__u16)x[2] << 8) | x[3]) & 0xfff8) != 0)
					return PKT_PASS;
				nh = x[0];
				off += 8;
			} else if (nh == 51) {
				nh = x[0];
				off += ((__u32)x[1] + 2) * 4;
			} else {
				nh = x[0];
				off += ((__u32)x[1] + 1) * 8;
			}
		}
		p->t.proto = nh;
	} else {
		return PKT_PASS;
	}

	if (read_l4(skb, off, p->t.family, &p->t, &p->has_ports, &p->icmp_error, &icmp_type) < 0)
		return PKT_MALFORMED;
	/* Neighbour discovery and MLD are link plumbing, like ARP. */
	if (p->t.proto == IPPROTO_ICMPV6_ && p->t.family == DG_FAMILY_V6 &&
	    ((icmp_type >= 130 && icmp_type <= 137) || icmp_type == 143))
		return PKT_PASS;
	if (p->icmp_error && parse_inner(skb, off, p->t.family, &p->inner) < 0)
		p->icmp_error = 0;
	return PKT_FLOW;
}

static __always_inline __u64 ct_timeout_ns(__u8 proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return DG_CT_TIMEOUT_TCP_S * NS_PER_S;
	case IPPROTO_SCTP:
		return DG_CT_TIMEOUT_SCTP_S * NS_PER_S;
	case IPPROTO_UDP:
		return DG_CT_TIMEOUT_UDP_S * NS_PER_S;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6_:
		return DG_CT_TIMEOUT_ICMP_S * NS_PER_S;
	default:
		return DG_CT_TIMEOUT_OTHER_S * NS_PER_S;
	}
}

/* The conntrack key of a packet that crossed the hook of `dir`, from the pod's side: a flow and its
 * replies share one key, so one lookup answers both "established" and "reply". */
static __always_inline void ct_key(struct dg_ct_key *k, __u32 ep_id, __u8 dir, const struct tuple *t)
{
	k->ep_id = ep_id;
	k->family = t->family;
	k->proto = t->proto;
	k->_pad = 0;
	if (dir == DG_DIR_EGRESS) {
		__builtin_memcpy(k->pod_addr, t->saddr, 16);
		__builtin_memcpy(k->peer_addr, t->daddr, 16);
		k->pod_port = t->sport;
		k->peer_port = t->dport;
	} else {
		__builtin_memcpy(k->pod_addr, t->daddr, 16);
		__builtin_memcpy(k->peer_addr, t->saddr, 16);
		k->pod_port = t->dport;
		k->peer_port = t->sport;
	}
}

/* A live entry for the key (touched on the way) means the packet belongs to a tracked flow: in
 * its original direction when the entry's dir is `dir`, a reply otherwise. */
static __always_inline int ct_hit(const struct dg_ct_key *k, __u8 dir, __u64 now)
{
	struct dg_ct_value *v = bpf_map_lookup_elem(&dg_ct, k);
	if (!v)
		return 0;
	/* Signed: another CPU may have stored a slightly later timestamp than our `now`. */
	if ((__s64)(now - v->last_seen_ns) >= (__s64)ct_timeout_ns(k->proto))
		return 0;
	/* Skipping same-tick writes saves a cache line bounce between CPUs. */
	if (v->last_seen_ns != now)
		v->last_seen_ns = now;
	if (v->dir != dir && !(v->flags & DG_CT_REPLY_SEEN))
		v->flags |= DG_CT_REPLY_SEEN; /* racy but idempotent */
	return 1;
}

static __always_inline int addr_eq4(const __u8 *a, const __u8 *b)
{
	return *(const __u32 *)a == *(const __u32 *)b && *(const __u32 *)b != 0;
}

static __always_inline int addr_eq6(const __u8 *a, const __u8 *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;
	return x[0] == y[0] && x[1] == y[1] && (y[0] | y[1]) != 0;
}

struct decision {
	__u8 verdict;
	__u8 tier;
	__u8 reason;
	__u32 rule_id;
};

static __always_inline int rule_matches(const struct dg_rule *r, const struct pkt *p, const __u8 *peer,
					__u32 ep_id, __u64 *now)
{
	if (r->proto != 0 && r->proto != p->t.proto)
		return 0;
	if (r->port_lo != 0 || r->port_hi != 0) {
		if (!p->has_ports || p->t.dport < r->port_lo || p->t.dport > r->port_hi)
			return 0;
	}
	if (r->flags & DG_RULE_FQDN) {
		struct dg_learned_key lk = {
			.ep_id = ep_id,
			.fqdn_slot = r->fqdn_slot,
			.family = p->t.family,
		};
		__builtin_memcpy(lk.addr, peer, 16);
		struct dg_learned_value *lv = bpf_map_lookup_elem(&dg_learned, &lk);
		if (!lv)
			return 0;
		if (*now == 0)
			*now = bpf_ktime_get_ns();
		if (*now >= lv->expires_ns)
			return 0;
	}
	return 1;
}

struct walk {
	const struct dg_rule_list *list;
	const struct pkt *p;
	const __u8 *peer;
	struct decision *d;
	__u64 *now;
	__u32 ep_id;
	__u32 count;
	__u8 isolated;
	__u8 skip_admin;
	__u8 done;
};

/* One step of the tier walk; bpf_loop runs it so the verifier checks the body once, not once
 * per rule slot. Returns 1 to stop. */
static long walk_step(__u32 i, void *ctx)
{
	struct walk *w = ctx;
	struct decision *d = w->d;

	if (i >= w->count || i >= DG_MAX_RULES)
		return 1;
	/* Hide i from the optimiser so the mask survives and the verifier sees a bounded index. */
	__u32 idx = i;
	asm volatile("" : "+r"(idx));
	const struct dg_rule *r = &w->list->rules[idx & (DG_MAX_RULES - 1)];
	if (r->tier == DG_TIER_ADMIN) {
		if (w->skip_admin || !rule_matches(r, w->p, w->peer, w->ep_id, w->now))
			return 0;
		if (r->action == DG_ACTION_PASS) {
			w->skip_admin = 1;
			return 0;
		}
		d->verdict = r->action == DG_ACTION_ACCEPT ? DG_VERDICT_ALLOW : DG_VERDICT_DENY;
	} else if (r->tier == DG_TIER_NP) {
		if (!w->isolated || !rule_matches(r, w->p, w->peer, w->ep_id, w->now))
			return 0;
		d->verdict = DG_VERDICT_ALLOW;
	} else {
		/* Baseline: the list is sorted by tier, so every NP rule is behind us. An isolated
		 * direction never reaches Baseline; Pass in Baseline goes to the default. */
		if (w->isolated)
			return 1;
		if (!rule_matches(r, w->p, w->peer, w->ep_id, w->now))
			return 0;
		if (r->action == DG_ACTION_PASS)
			return 1;
		d->verdict = r->action == DG_ACTION_ACCEPT ? DG_VERDICT_ALLOW : DG_VERDICT_DENY;
	}
	d->tier = r->tier;
	d->reason = DG_REASON_RULE;
	d->rule_id = r->rule_id;
	w->done = 1;
	return 1;
}

/* The tier walk over one prefix's rule list (bpf/README.md, "Decision"). */
static __always_inline void decide(const struct dg_rule_list *list, const struct dg_endpoint *ep, __u8 dir,
				   const struct pkt *p, const __u8 *peer, __u64 *now, struct decision *d)
{
	struct walk w = {
		.list = list,
		.p = p,
		.peer = peer,
		.d = d,
		.now = now,
		.ep_id = ep->ep_id,
		.isolated = dir == DG_DIR_EGRESS ? (ep->flags & DG_EP_EGRESS_ISOLATED)
						 : (ep->flags & DG_EP_INGRESS_ISOLATED),
	};

	if (list) {
		w.count = list->count;
		bpf_loop(DG_MAX_RULES, walk_step, &w, 0);
		if (w.done)
			return;
	}
	if (w.isolated) {
		d->verdict = DG_VERDICT_DENY;
		d->reason = DG_REASON_NP_NO_MATCH;
		return;
	}
	d->verdict = ep->mode == DG_MODE_STRICT ? DG_VERDICT_DENY : DG_VERDICT_ALLOW;
	d->reason = DG_REASON_DEFAULT;
}

static __always_inline void emit(struct __sk_buff *skb, __u32 ep_id, __u8 dir, const struct pkt *p,
				 const struct decision *d, struct dg_counters *c, __u64 now)
{
	struct dg_event *e = bpf_ringbuf_reserve(&dg_events, sizeof(*e), 0);
	if (!e) {
		if (c)
			c->events_lost++;
		return;
	}
	e->ts_ns = now;
	e->ep_id = ep_id;
	e->rule_id = d->rule_id;
	e->dir = dir;
	e->family = p->t.family;
	e->proto = p->t.proto;
	e->verdict = d->verdict;
	e->tier = d->tier;
	e->reason = d->reason;
	e->_pad = 0;
	__builtin_memcpy(e->saddr, p->t.saddr, 16);
	__builtin_memcpy(e->daddr, p->t.daddr, 16);
	e->sport = p->t.sport;
	e->dport = p->t.dport;
	e->ifindex = skb->ifindex;
	bpf_ringbuf_submit(e, 0);
}

static __always_inline int handle(struct __sk_buff *skb, __u8 dir)
{
	__u32 ifindex = skb->ifindex;
	struct dg_endpoint *ep = bpf_map_lookup_elem(&dg_endpoints, &ifindex);
	if (!ep || ep->mode == DG_MODE_NOT_ENFORCED)
		return TC_ACT_OK;

	struct pkt p = {};
	struct decision d = {};
	int kind = parse(skb, &p);
	if (kind == PKT_PASS)
		return TC_ACT_OK;

	__u32 ep_id = ep->ep_id;
	__u32 cidx = ep_id * 2 + dir;
	struct dg_counters *c = ep_id < DG_MAX_ENDPOINTS ? bpf_map_lookup_elem(&dg_counters, &cidx) : 0;
	__u64 now = bpf_ktime_get_ns();

	if (kind == PKT_MALFORMED) {
		d.verdict = DG_VERDICT_DENY;
		d.reason = DG_REASON_MALFORMED;
		goto verdict;
	}

	struct dg_ct_key ck;
	ct_key(&ck, ep_id, dir, &p.t);
	if (ct_hit(&ck, dir, now))
		goto established;
	if (p.icmp_error) {
		/* The embedded packet crossed the other hook: it is what provoked this error. */
		struct dg_ct_key ik;
		ct_key(&ik, ep_id, dir ^ 1, &p.inner);
		if (ct_hit(&ik, dir ^ 1, now))
			goto established;
	}

	const __u8 *peer = dir == DG_DIR_EGRESS ? p.t.daddr : p.t.saddr;
	if (p.t.family == DG_FAMILY_V4) {
		if (addr_eq4(peer, ep->pod_ip4)) {
			d.reason = DG_REASON_SELF;
		} else if (dir == DG_DIR_INGRESS && addr_eq4(peer, ep->node_ip4)) {
			d.reason = DG_REASON_NODE_IP;
		} else {
			struct dg_policy_key_v4 k = {.prefixlen = 40 + 32, .ep_id = ep_id, .dir = dir};
			__builtin_memcpy(k.addr, peer, 4);
			decide(bpf_map_lookup_elem(&dg_policy_v4, &k), ep, dir, &p, peer, &now, &d);
		}
	} else {
		if (addr_eq6(peer, ep->pod_ip6)) {
			d.reason = DG_REASON_SELF;
		} else if (dir == DG_DIR_INGRESS && addr_eq6(peer, ep->node_ip6)) {
			d.reason = DG_REASON_NODE_IP;
		} else {
			struct dg_policy_key_v6 k = {.prefixlen = 40 + 128, .ep_id = ep_id, .dir = dir};
			__builtin_memcpy(k.addr, peer, 16);
			decide(bpf_map_lookup_elem(&dg_policy_v6, &k), ep, dir, &p, peer, &now, &d);
		}
	}
	if (d.reason == DG_REASON_SELF || d.reason == DG_REASON_NODE_IP)
		d.verdict = DG_VERDICT_ALLOW;

	if (d.verdict == DG_VERDICT_ALLOW && !(ep->flags & DG_EP_NO_CT_INSERT)) {
		struct dg_ct_value v = {
			.last_seen_ns = now,
			.rule_id = d.rule_id,
			.tier = d.tier,
			.reason = d.reason,
			.dir = dir,
		};
		if (bpf_map_update_elem(&dg_ct, &ck, &v, BPF_ANY) == 0 && c)
			c->new_flows++;
	}

verdict:
	if (d.verdict == DG_VERDICT_DENY) {
		if (c)
			c->denied_packets++;
		emit(skb, ep_id, dir, &p, &d, c, now);
		return TC_ACT_SHOT;
	}
	if (c)
		c->allowed_packets++;
	if (ep->allow_sample == 1 || (ep->allow_sample > 1 && bpf_get_prandom_u32() % ep->allow_sample == 0))
		emit(skb, ep_id, dir, &p, &d, c, now);
	return TC_ACT_OK;

established:
	if (c)
		c->allowed_packets++;
	return TC_ACT_OK;
}

SEC("tc")
int dnsgate_from_pod(struct __sk_buff *skb)
{
	return handle(skb, DG_DIR_EGRESS);
}

SEC("tc")
int dnsgate_to_pod(struct __sk_buff *skb)
{
	return handle(skb, DG_DIR_INGRESS);
}

/* No GPL-only helper is used, so the project licence works here too. */
char LICENSE[] SEC("license") = "Apache-2.0";
