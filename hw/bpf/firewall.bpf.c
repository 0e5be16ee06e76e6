// SPDX-License-Identifier: MIT OR Apache-2.0
//
// Pangea's XDP firewall: filters UDP datagrams to the node's port before the kernel allocates
// a socket buffer for them.
//
// Ethernet -> IPv4 (IHL honoured) or IPv6 (UDP as the first next header only) -> UDP. Anything
// that is not UDP to the configured port, and IPv4 fragments other than the first, pass
// untouched and count as `ignored`. UDP to the port goes through two stages:
//
// 1. Allow stage (when `enforce_allow` is set): the source address must match a prefix of the
//    `allow` LPM trie, else XDP_DROP (`dropped_denied`). IPv4 addresses are IPv4-mapped
//    (::ffff:a.b.c.d), so an IPv4 /24 is stored with prefix length 96 + 24.
// 2. Rate stage (when `rate_per_second` > 0): one token bucket per source address in the
//    `buckets` LRU hash, in nano-tokens so refills need no division. Out of tokens: XDP_DROP
//    (`dropped_rate`); otherwise XDP_PASS (`passed`). The arithmetic is exactly that of the
//    userspace reference, so counts agree.
//
// The loader (hw/src/xdp.rs) overrides the maps' max_entries with its `*_MAX` constants; the
// sizes below are the same numbers so that the object also loads on its own.
//
// Only helpers that are not GPL-only are used (map lookups and updates, bpf_ktime_get_ns).

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define ALLOW_PREFIXES_MAX 4096
#define SOURCES_MAX 65536

#define NANOS_PER_TOKEN 1000000000ULL
// Longest refill interval taken into account (about 550 s): bounds elapsed * rate below 2^64.
#define ELAPSED_NS_MAX (1ULL << 39)

#define IP_FRAGMENT_OFFSET_MASK 0x1fff

// Reads a packet field right after its bounds check. Without the empty asm, clang may merge
// the IPv4 and IPv6 paths' loads into one after they join, through a pointer whose checked
// range the verifier no longer knows ("invalid access to packet").
#define READ_CHECKED(field)                          \
	({                                           \
		__typeof__(field) value_ = (field);  \
		asm volatile("" : "+r"(value_));     \
		value_;                              \
	})

enum counter_index {
	COUNTER_PASSED = 0,
	COUNTER_DROPPED_DENIED = 1,
	COUNTER_DROPPED_RATE = 2,
	COUNTER_IGNORED = 3,
	COUNTER_COUNT = 4,
};

// Written by userspace only. `port` is in host byte order.
struct firewall_config {
	__u16 port;
	__u8 enforce_allow;
	__u8 reserved;
	__u32 rate_per_second;
	__u32 burst;
};

// An address as the maps key it: IPv6, or IPv4-mapped IPv6.
struct source_address {
	__u8 bytes[16];
};

struct allow_key {
	__u32 prefix_len;
	struct source_address address;
};

struct bucket {
	__u64 tokens_nano;
	__u64 last_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct firewall_config);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, ALLOW_PREFIXES_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct allow_key);
	__type(value, __u8);
} allow SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SOURCES_MAX);
	__type(key, struct source_address);
	__type(value, struct bucket);
} buckets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, COUNTER_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline int count(__u32 index, int verdict)
{
	__u64 *value = bpf_map_lookup_elem(&counters, &index);

	if (value)
		*value += 1;
	return verdict;
}

// Takes one token from the source's bucket; returns whether there was one.
static __always_inline int take_token(const struct source_address *source,
				      const struct firewall_config *cfg)
{
	__u64 now = bpf_ktime_get_ns();
	__u64 capacity = (__u64)cfg->burst * NANOS_PER_TOKEN;
	struct bucket *found = bpf_map_lookup_elem(&buckets, source);
	struct bucket next;
	int allowed;

	if (found) {
		__u64 last = found->last_ns;
		__u64 elapsed = now > last ? now - last : 0;
		__u64 tokens;

		if (elapsed > ELAPSED_NS_MAX)
			elapsed = ELAPSED_NS_MAX;
		tokens = found->tokens_nano + elapsed * (__u64)cfg->rate_per_second;
		next.tokens_nano = tokens < capacity ? tokens : capacity;
	} else {
		next.tokens_nano = capacity;
	}
	next.last_ns = now;

	allowed = next.tokens_nano >= NANOS_PER_TOKEN;
	if (allowed)
		next.tokens_nano -= NANOS_PER_TOKEN;

	if (found) {
		found->tokens_nano = next.tokens_nano;
		found->last_ns = next.last_ns;
	} else {
		// Failure (map full and nothing evictable) only forgets the state: fail open.
		bpf_map_update_elem(&buckets, source, &next, BPF_ANY);
	}
	return allowed;
}

SEC("xdp")
int firewall(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct allow_key key = {};
	struct udphdr *udp;
	struct firewall_config *cfg;
	__u16 dest_port;
	__u32 zero = 0;

	if ((void *)(eth + 1) > data_end)
		return count(COUNTER_IGNORED, XDP_PASS);

	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		__u32 header_len;

		if ((void *)(ip + 1) > data_end)
			return count(COUNTER_IGNORED, XDP_PASS);
		if (ip->protocol != IPPROTO_UDP || ip->ihl < 5)
			return count(COUNTER_IGNORED, XDP_PASS);
		if (ip->frag_off & bpf_htons(IP_FRAGMENT_OFFSET_MASK))
			return count(COUNTER_IGNORED, XDP_PASS);
		header_len = ip->ihl * 4;
		udp = (void *)ip + header_len;
		if ((void *)(udp + 1) > data_end)
			return count(COUNTER_IGNORED, XDP_PASS);
		dest_port = READ_CHECKED(udp->dest);
		key.address.bytes[10] = 0xff;
		key.address.bytes[11] = 0xff;
		__builtin_memcpy(&key.address.bytes[12], &ip->saddr, 4);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > data_end)
			return count(COUNTER_IGNORED, XDP_PASS);
		if (ip6->nexthdr != IPPROTO_UDP)
			return count(COUNTER_IGNORED, XDP_PASS);
		udp = (void *)(ip6 + 1);
		if ((void *)(udp + 1) > data_end)
			return count(COUNTER_IGNORED, XDP_PASS);
		dest_port = READ_CHECKED(udp->dest);
		__builtin_memcpy(key.address.bytes, &ip6->saddr, 16);
	} else {
		return count(COUNTER_IGNORED, XDP_PASS);
	}

	cfg = bpf_map_lookup_elem(&config, &zero);
	if (!cfg || cfg->port == 0 || bpf_ntohs(dest_port) != cfg->port)
		return count(COUNTER_IGNORED, XDP_PASS);

	if (cfg->enforce_allow) {
		key.prefix_len = 128;
		if (!bpf_map_lookup_elem(&allow, &key))
			return count(COUNTER_DROPPED_DENIED, XDP_DROP);
	}

	if (cfg->rate_per_second != 0 && !take_token(&key.address, cfg))
		return count(COUNTER_DROPPED_RATE, XDP_DROP);

	return count(COUNTER_PASSED, XDP_PASS);
}

char LICENSE[] SEC("license") = "MIT OR Apache-2.0";
