/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dnsgate map layout: every key, value and constant shared between the tc programs and user
 * space. src/datapath/ebpf/layout.ts mirrors this file byte for byte; test/bpf/layout-btf.test.ts
 * compares both through the object's BTF, so a change here fails the tests until layout.ts follows.
 *
 * Byte order: addresses are raw network-order bytes (IPv4 in the first 4 bytes of a 16-byte
 * field, the rest zero); every other multi-byte field (ports included) is in HOST byte order.
 */
#ifndef DNSGATE_LAYOUT_H
#define DNSGATE_LAYOUT_H

#include <linux/types.h>

/* Capacities. The compiler must report (never truncate) anything that would exceed them. */
enum dg_capacity {
	DG_MAX_RULES = 64,           /* rules in one prefix's list */
	DG_MAX_ENDPOINTS = 4096,     /* endpoints map entries; ep_id is 1..DG_MAX_ENDPOINTS-1 */
	DG_POLICY_V4_MAX = 65536,    /* LPM entries, IPv4 */
	DG_POLICY_V6_MAX = 65536,    /* LPM entries, IPv6 */
	DG_LEARNED_MAX = 262144,     /* learned (ep, slot, ip) entries */
	DG_CT_MAX = 262144,          /* conntrack LRU entries */
	DG_EVENTS_BYTES = 1 << 20,   /* ring buffer size */
};

/* Direction from the POD's point of view. */
enum dg_dir {
	DG_DIR_EGRESS = 0,  /* packets from the pod: tc ingress hook of the host veth */
	DG_DIR_INGRESS = 1, /* packets to the pod: tc egress hook of the host veth */
};

enum dg_mode {
	DG_MODE_NOT_ENFORCED = 0,
	DG_MODE_STANDARD = 1, /* default allow */
	DG_MODE_STRICT = 2,   /* default deny */
};

enum dg_ep_flags {
	DG_EP_EGRESS_ISOLATED = 1 << 0,  /* some NP/ANP selects the pod for egress */
	DG_EP_INGRESS_ISOLATED = 1 << 1, /* some NP/ANP selects the pod for ingress */
	/* Never insert conntrack entries: every packet is judged by policy. For differential tests
	 * and benchmarks only; a real endpoint with it would drop replies of allowed flows. */
	DG_EP_NO_CT_INSERT = 1 << 2,
};

enum dg_tier {
	DG_TIER_NONE = 0, /* in events only: no rule decided */
	DG_TIER_ADMIN = 1,
	DG_TIER_NP = 2,
	DG_TIER_BASELINE = 3,
};

enum dg_action {
	DG_ACTION_ACCEPT = 1,
	DG_ACTION_DENY = 2,
	DG_ACTION_PASS = 3,
};

enum dg_rule_flags {
	DG_RULE_FQDN = 1 << 0, /* matches only if learned[(ep, fqdn_slot, family, peer)] is live */
};

enum dg_family {
	DG_FAMILY_V4 = 4,
	DG_FAMILY_V6 = 6,
};

enum dg_verdict {
	DG_VERDICT_ALLOW = 1,
	DG_VERDICT_DENY = 2,
};

enum dg_reason {
	DG_REASON_RULE = 1,        /* a rule decided: tier and rule_id say which */
	DG_REASON_NP_NO_MATCH = 2, /* NP-isolated direction and no NP rule matched: deny */
	DG_REASON_DEFAULT = 3,     /* no final rule: standard allows, strict denies */
	DG_REASON_NODE_IP = 4,     /* ingress from the pod's own node: always allowed */
	DG_REASON_SELF = 5,        /* the pod talking to its own IP: always allowed */
	DG_REASON_MALFORMED = 6,   /* IP packet too short to read its headers: denied */
};

enum dg_ct_flags {
	DG_CT_REPLY_SEEN = 1 << 0,
};

/* Idle timeouts of conntrack entries, seconds since last_seen_ns. */
enum dg_ct_timeout {
	DG_CT_TIMEOUT_TCP_S = 21600,
	DG_CT_TIMEOUT_SCTP_S = 21600,
	DG_CT_TIMEOUT_UDP_S = 120,
	DG_CT_TIMEOUT_ICMP_S = 30,
	DG_CT_TIMEOUT_OTHER_S = 120,
};

/* endpoints: key = __u32 ifindex of the host-side veth. */
struct dg_endpoint {
	__u32 ep_id;        /* 1..DG_MAX_ENDPOINTS-1, chosen by the backend */
	__u8 mode;          /* enum dg_mode */
	__u8 flags;         /* enum dg_ep_flags */
	__u16 _pad0;
	__u32 allow_sample; /* allow events: 0 none, 1 every one, N about 1 in N */
	__u8 node_ip4[4];   /* all-zero = none */
	__u8 pod_ip4[4];
	__u8 node_ip6[16];
	__u8 pod_ip6[16];
};

/* policy_v4 / policy_v6: LPM tries. prefixlen = 40 + address prefix length, so ep_id and dir
 * (40 bits) always match in full. */
struct dg_policy_key_v4 {
	__u32 prefixlen;
	__u32 ep_id;
	__u8 dir;
	__u8 addr[4];
	__u8 _pad[3];
};

struct dg_policy_key_v6 {
	__u32 prefixlen;
	__u32 ep_id;
	__u8 dir;
	__u8 addr[16];
	__u8 _pad[3];
};

struct dg_rule {
	__u8 proto;     /* 0 any, else IPPROTO_* */
	__u8 tier;      /* enum dg_tier (1..3) */
	__u8 action;    /* enum dg_action */
	__u8 flags;     /* enum dg_rule_flags */
	__u16 port_lo;  /* 0-0 any port; else 1 <= lo <= hi; never matches a portless protocol */
	__u16 port_hi;
	__u32 fqdn_slot;
	__u32 rule_id;
};

/* The value of both LPM tries: the complete ordered rule list for that prefix. */
struct dg_rule_list {
	__u32 count;
	__u32 _pad;
	struct dg_rule rules[DG_MAX_RULES];
};

/* learned: hash, written by the DNS proxy path. */
struct dg_learned_key {
	__u32 ep_id;
	__u32 fqdn_slot;
	__u8 family; /* enum dg_family */
	__u8 _pad[3];
	__u8 addr[16];
};

struct dg_learned_value {
	__u64 expires_ns; /* CLOCK_MONOTONIC (bpf_ktime_get_ns); live while now < expires_ns */
};

/* ct: LRU hash. A flow's key is taken from the pod's side, so its packets in both directions (and
 * the ICMP errors they provoke) find the same entry; dir in the value says who opened it. */
struct dg_ct_key {
	__u32 ep_id;
	__u8 family;
	__u8 proto;
	__u16 _pad;
	__u8 pod_addr[16];
	__u8 peer_addr[16];
	__u16 pod_port;  /* ICMP echo: the id when the pod sent the request, else 0 */
	__u16 peer_port; /* ICMP echo: the id when the peer sent the request, else 0 */
};

struct dg_ct_value {
	__u64 last_seen_ns; /* bpf_ktime_get_ns of the flow's latest packet */
	__u32 rule_id;      /* what allowed the flow (0 when no rule did) */
	__u8 tier;
	__u8 reason;
	__u8 flags;         /* enum dg_ct_flags */
	__u8 dir;           /* enum dg_dir of the packet that opened the flow */
};

/* counters: per-CPU array, index ep_id * 2 + dir. */
struct dg_counters {
	__u64 allowed_packets;
	__u64 denied_packets;
	__u64 new_flows;     /* conntrack entries created */
	__u64 events_lost;   /* ring buffer full */
};

/* events: ring buffer records. */
struct dg_event {
	__u64 ts_ns;
	__u32 ep_id;
	__u32 rule_id;
	__u8 dir;
	__u8 family;
	__u8 proto;
	__u8 verdict; /* enum dg_verdict */
	__u8 tier;
	__u8 reason;  /* enum dg_reason */
	__u16 _pad;
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u32 ifindex;
};

#endif
