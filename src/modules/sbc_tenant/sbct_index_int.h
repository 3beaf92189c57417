/*
 * sbc_tenant - internal layout of the DID index, shared by the builder
 * (sbct_build.c) and the lookup (sbct_index.c). Pure C, no Kamailio.
 *
 * An index is one allocation, offsets only, no pointers:
 *   struct sbct_index      header
 *   sbct_tenant_t[n]       tenants sorted by id
 *   sbct_entry_t[cap_e]    exact numbers: open-addressing hash table,
 *                          linear probing, load <= 0.6, 64-byte aligned
 *   sbct_entry_t[cap_p]    prefixes (incl. the catch-all): same scheme
 *   uint8_t[cap_e]         one fingerprint byte per exact slot (0 = empty)
 *   uint8_t[cap_p]         one fingerprint byte per prefix slot
 *   char[pool_size]        NUL terminated tenant names, attrs and gateway URIs,
 *                          each distinct string stored once
 * The digits of a pattern are packed 4 bits each into its 32-byte entry,
 * so a probe touches only its table (one cache line in the common case)
 * and a DID costs (32 + 1) / load (about 55) bytes with no separate string.
 * Prefixes get their own table because there are usually far fewer of
 * them: that table stays in the CPU cache, so a lookup that falls back to
 * prefixes still costs about one memory access (the exact probe).
 * A probe walks the fingerprint bytes (64 slots per cache line, 1.7 bytes
 * per DID) and reads an entry only where the byte matches: a DID that is
 * not in a table costs one read of that small array instead of a walk
 * over 32-byte entries, while the entry of a hit is prefetched at the
 * start so that the two reads overlap.
 */

#ifndef _SBCT_INDEX_INT_H_
#define _SBCT_INDEX_INT_H_

#include <stdint.h>
#include <string.h>

#include "sbct_index.h"

#define SBCT_MAGIC 0x5342435449445833ULL /* "SBCTIDX3" */

#define SBCT_F_USED 0x01
#define SBCT_F_PREFIX 0x02
#define SBCT_F_PLUS 0x04 /* pattern was written with a leading '+' */
#define SBCT_F_KEY (SBCT_F_USED | SBCT_F_PREFIX)

typedef struct sbct_entry
{
	uint64_t lo;	 /* digits 0..15, digit i in bits 4i..4i+3 */
	uint64_t hi;	 /* digits 16..31 */
	uint32_t tenant; /* index into the tenant array */
	int32_t group;	 /* < 0: use the tenant's gateway_group */
	uint32_t uri_off;
	uint8_t uri_len; /* 0 = no gateway_uri */
	uint8_t len;	 /* number of digits */
	uint8_t flags;	 /* 0 = empty slot */
	uint8_t spare;
} sbct_entry_t;

typedef struct sbct_tenant
{
	uint32_t id;
	int32_t gateway_group;
	int32_t fallback_group;
	int32_t max_calls;
	int32_t max_cps;
	uint32_t name_off;
	uint32_t attrs_off; /* 0 = none (offset 0 is the empty string) */
	uint16_t name_len;
	uint16_t attrs_len;
	uint8_t enabled;
	uint8_t spare[3];
} sbct_tenant_t;

typedef struct sbct_table
{
	uint64_t off;	 /* entries, from the start of the block */
	uint64_t fp_off; /* fingerprint bytes, from the start of the block */
	uint32_t cap;	 /* slots, always > count */
	uint32_t count;
} sbct_table_t;

struct sbct_index
{
	uint64_t magic;
	uint64_t size;
	uint64_t prefix_mask; /* bit L set: a prefix of L digits exists */
	uint64_t off_tenants;
	uint64_t off_pool;
	uint64_t pool_size;
	sbct_table_t exact;
	sbct_table_t prefix;
	uint32_t n_tenants;
	uint32_t spare;
};

/* slots for n keys at a load factor <= 0.6, at least one always empty */
static inline uint32_t sbct_capacity(uint32_t n)
{
	return n + n / 2 + n / 6 + 1;
}

static inline uint64_t sbct_mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* prefix and exact keys live in different tables, so only the digits
 * and their count go into the hash */
static inline uint64_t sbct_key_hash(uint64_t lo, uint64_t hi, unsigned len)
{
	return sbct_mix64(lo * 0x9e3779b97f4a7c15ULL
					  ^ (hi * 0xc2b2ae3d27d4eb4fULL
							  + (uint64_t)len * 0x165667b19e3779f9ULL));
}

/* map a hash onto [0, cap) without a division (cap need not be 2^n) */
static inline uint32_t sbct_slot(uint64_t h, uint32_t cap)
{
	return (uint32_t)(((h >> 32) * (uint64_t)cap) >> 32);
}

static inline uint32_t sbct_home(
		uint64_t lo, uint64_t hi, unsigned len, uint32_t cap)
{
	return sbct_slot(sbct_key_hash(lo, hi, len), cap);
}

/* fingerprint byte of a used slot: the low bits of the hash (the slot
 * comes from the high ones), never 0 */
static inline uint8_t sbct_fp(uint64_t h)
{
	return (uint8_t)h ? (uint8_t)h : 1;
}

static inline sbct_entry_t *sbct_table_at(
		const sbct_index_t *idx, const sbct_table_t *t)
{
	return (sbct_entry_t *)((char *)idx + t->off);
}

static inline uint8_t *sbct_fp_at(const sbct_index_t *idx, const sbct_table_t *t)
{
	return (uint8_t *)idx + t->fp_off;
}

static inline int sbct_same_key(const sbct_entry_t *x, const sbct_entry_t *y)
{
	return x->lo == y->lo && x->hi == y->hi && x->len == y->len
		   && (x->flags & SBCT_F_KEY) == (y->flags & SBCT_F_KEY);
}

/* parses a did_routing.did pattern ([+]digits[*] or "*") into e's key
 * and flags; -1 if invalid */
int sbct_parse_pattern(const char *s, size_t len, sbct_entry_t *e);

#endif
