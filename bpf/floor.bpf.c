// SPDX-License-Identifier: Apache-2.0
/*
 * The benchmark floor (BENCHMARKS.md, bench:datapath): the cheapest useful tc program, one hash
 * lookup keyed by ifindex, so dnsgate's cost is reported as a ratio to it.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u32);
} floor_verdicts SEC(".maps");

SEC("tc")
int floor_one_lookup(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;
	__u32 *v = bpf_map_lookup_elem(&floor_verdicts, &ifindex);
	return v && *v ? TC_ACT_SHOT : TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Apache-2.0";
