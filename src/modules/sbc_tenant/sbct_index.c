/*
 * sbc_tenant - DID index: parsing and lookup (pure C, no Kamailio headers)
 *
 * Layout and build: sbct_index_int.h, sbct_build.c. A lookup normalizes
 * the DID (one leading '+' stripped, 1..32 digits), probes the exact
 * table, then the prefix table once per prefix length that exists in the
 * index (bitmask), longest first. Exact and prefix probes each touch one
 * cache line in the common case.
 *
 * Lookups run once per call in a SIP worker, but the code is also kept
 * short and free of store/reload round trips so that back-to-back lookups
 * overlap their cache misses (see bench_sbct_index).
 */

#include <stdlib.h>
#include <string.h>

#include "sbct_index_int.h"

/* ---- parsing --------------------------------------------------------- */

/* Digits are validated and packed 8 at a time (SWAR): a lookup is short
 * enough that the CPU overlaps the table miss of one lookup with the
 * parsing of the next one. Words are little endian: single moves on
 * little endian CPUs, byte by byte elsewhere. */
#define SBCT_ONES 0x0101010101010101ULL

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
static inline uint64_t sbct_load_le64(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static inline void sbct_store_le64(char *p, uint64_t v)
{
	memcpy(p, &v, 8);
}
#else
static inline uint64_t sbct_load_le64(const unsigned char *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16
		   | (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40
		   | (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

static inline void sbct_store_le64(char *p, uint64_t v)
{
	int i;

	for(i = 0; i < 8; i++)
		p[i] = (char)(v >> (8 * i));
}
#endif

/* 8 ASCII digits -> 8 nibbles (digit i at bits 4i); -1 if not all digits */
static inline int64_t sbct_pack8(uint64_t w)
{
	uint64_t x;

	if((w & (0xf0 * SBCT_ONES)) != 0x30 * SBCT_ONES
			|| ((w + 0x06 * SBCT_ONES) & (0xf0 * SBCT_ONES)) != 0x30 * SBCT_ONES)
		return -1;
	x = w & (0x0f * SBCT_ONES);
	x = (x | (x >> 4)) & 0x00ff00ff00ff00ffULL;
	x = (x | (x >> 8)) & 0x0000ffff0000ffffULL;
	x = (x | (x >> 16)) & 0x00000000ffffffffULL;
	return (int64_t)x;
}

/* 8 nibbles -> 8 ASCII digits */
static inline uint64_t sbct_unpack8(uint64_t x)
{
	x &= 0xffffffffULL;
	x = (x | (x << 16)) & 0x0000ffff0000ffffULL;
	x = (x | (x << 8)) & 0x00ff00ff00ff00ffULL;
	x = (x | (x << 4)) & (0x0f * SBCT_ONES);
	return x + 0x30 * SBCT_ONES;
}

/* the i-th group of 8 characters of s[0..len), padded with '0'. Reads
 * only inside s, and reads s directly: copying it into a local buffer
 * first makes the wide loads wait for the copy's stores to retire, which
 * serializes consecutive lookups on their table cache misses. */
static inline uint64_t sbct_word(const char *s, size_t len, unsigned i)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t off = (size_t)i * 8;
	size_t r;
	uint64_t w = 0;

	if(off + 8 <= len)
		return sbct_load_le64(p + off);
	r = len - off; /* 1..7 */
	if(len >= 8) {
		w = sbct_load_le64(p + len - 8) >> (8 * (8 - r));
	} else {
		for(size_t k = 0; k < r; k++)
			w |= (uint64_t)p[off + k] << (8 * k);
	}
	return w | ((0x30 * SBCT_ONES) << (8 * r));
}

/* digits only, packs into lo/hi, copies to out if given; -1 if invalid.
 * Positions past len are packed as 0. Unrolled: no loop-carried state. */
static int sbct_pack_digits(const char *s, size_t len, uint64_t *lo,
		uint64_t *hi, char *out)
{
	int64_t p0 = 0, p1 = 0, p2 = 0, p3 = 0;

	if(len > SBCT_DID_MAX)
		return -1;
	if(len > 0)
		p0 = sbct_pack8(sbct_word(s, len, 0));
	if(len > 8)
		p1 = sbct_pack8(sbct_word(s, len, 1));
	if(len > 16) {
		p2 = sbct_pack8(sbct_word(s, len, 2));
		if(len > 24)
			p3 = sbct_pack8(sbct_word(s, len, 3));
	}
	if((p0 | p1 | p2 | p3) < 0)
		return -1;
	*lo = (uint64_t)p0 | (uint64_t)p1 << 32;
	*hi = (uint64_t)p2 | (uint64_t)p3 << 32;
	if(out)
		memcpy(out, s, len);
	return (int)len;
}

int sbct_normalize(const char *did, size_t len, char *out)
{
	uint64_t lo, hi;
	int n;

	if(did == NULL)
		return -1;
	if(len > 0 && did[0] == '+') {
		did++;
		len--;
	}
	if(len == 0)
		return -1;
	n = sbct_pack_digits(did, len, &lo, &hi, out);
	if(n < 0)
		return -1;
	if(out)
		out[n] = '\0';
	return n;
}

/* [+]digits[*] or a bare "*" */
int sbct_parse_pattern(const char *s, size_t len, sbct_entry_t *e)
{
	int n;

	e->flags = SBCT_F_USED;
	if(len > 0 && s[0] == '+') {
		e->flags |= SBCT_F_PLUS;
		s++;
		len--;
	}
	if(len > 0 && s[len - 1] == '*') {
		e->flags |= SBCT_F_PREFIX;
		len--;
	}
	if(len == 0 && e->flags != (SBCT_F_USED | SBCT_F_PREFIX))
		return -1; /* "", "+", "+*" */
	e->lo = 0;
	e->hi = 0;
	n = sbct_pack_digits(s, len, &e->lo, &e->hi, NULL);
	if(n < 0)
		return -1;
	e->len = (uint8_t)n;
	return 0;
}

/* writes the pattern as written in did_routing: [+]digits[*]; out has
 * room for SBCT_PATTERN_MAX + 1 bytes. Digits are stored 8 at a time
 * straight into out (no bounce buffer, see sbct_word()). */
static size_t sbct_unpack(const sbct_entry_t *e, char *out)
{
	size_t n = 0;
	unsigned i;

	if(e->flags & SBCT_F_PLUS)
		out[n++] = '+';
	for(i = 0; i * 8 < e->len; i++)
		sbct_store_le64(out + n + 8 * i,
				sbct_unpack8((i < 2 ? e->lo : e->hi) >> (32 * (i & 1))));
	n += e->len;
	if(e->flags & SBCT_F_PREFIX)
		out[n++] = '*';
	out[n] = '\0';
	return n;
}

/* ---- index accessors ------------------------------------------------- */

void sbct_index_free(sbct_index_t *idx, const sbct_alloc_t *a)
{
	if(idx)
		a->free(idx, a->ctx);
}

size_t sbct_index_size(const sbct_index_t *idx)
{
	return idx ? (size_t)idx->size : 0;
}

size_t sbct_index_string_bytes(const sbct_index_t *idx)
{
	return idx ? (size_t)idx->pool_size : 0;
}

uint32_t sbct_index_dids(const sbct_index_t *idx)
{
	return idx ? idx->exact.count + idx->prefix.count : 0;
}

uint32_t sbct_index_tenants(const sbct_index_t *idx)
{
	return idx ? idx->n_tenants : 0;
}

void sbct_index_counts(
		const sbct_index_t *idx, uint32_t *exact, uint32_t *prefixes)
{
	*exact = idx ? idx->exact.count : 0;
	*prefixes = idx ? idx->prefix.count : 0;
}

static const sbct_tenant_t *sbct_tenants_of(const sbct_index_t *idx)
{
	return (const sbct_tenant_t *)((const char *)idx + idx->off_tenants);
}

static void sbct_tenant_info(const sbct_index_t *idx, const sbct_tenant_t *t,
		sbct_tenant_info_t *out)
{
	out->id = t->id;
	out->name = (const char *)idx + idx->off_pool + t->name_off;
	out->name_len = t->name_len;
	out->gateway_group = t->gateway_group;
	out->fallback_group = t->fallback_group;
	out->max_calls = t->max_calls;
	out->max_cps = t->max_cps;
	out->enabled = t->enabled;
	out->attrs = (const char *)idx + idx->off_pool + t->attrs_off;
	out->attrs_len = t->attrs_len;
}

int sbct_index_tenant(
		const sbct_index_t *idx, uint32_t id, sbct_tenant_info_t *out)
{
	const sbct_tenant_t *t;
	uint32_t l = 0, r, m;

	if(idx == NULL)
		return -1;
	t = sbct_tenants_of(idx);
	r = idx->n_tenants;
	while(l < r) { /* sorted by id when the index was built */
		m = l + (r - l) / 2;
		if(t[m].id == id) {
			sbct_tenant_info(idx, &t[m], out);
			return 0;
		}
		if(t[m].id < id)
			l = m + 1;
		else
			r = m;
	}
	return -1;
}

int sbct_index_tenant_at(
		const sbct_index_t *idx, uint32_t i, sbct_tenant_info_t *out)
{
	if(idx == NULL || i >= idx->n_tenants)
		return -1;
	sbct_tenant_info(idx, &sbct_tenants_of(idx)[i], out);
	return 0;
}

/* ---- lookup ---------------------------------------------------------- */

static inline uint64_t sbct_mask_lo(unsigned len)
{
	return len >= 16 ? ~0ULL : ((1ULL << (4 * len)) - 1);
}

static inline uint64_t sbct_mask_hi(unsigned len)
{
	if(len <= 16)
		return 0;
	return len >= 32 ? ~0ULL : ((1ULL << (4 * (len - 16))) - 1);
}

static inline const sbct_entry_t *sbct_find(const sbct_index_t *idx,
		const sbct_table_t *t, uint64_t lo, uint64_t hi, unsigned len)
{
	const sbct_entry_t *tab = sbct_table_at(idx, t);
	const uint8_t *fps = sbct_fp_at(idx, t);
	uint32_t cap = t->cap;
	uint64_t h = sbct_key_hash(lo, hi, len);
	uint32_t i = sbct_slot(h, cap);
	uint8_t want = sbct_fp(h), f;
	const sbct_entry_t *e;

	__builtin_prefetch(&tab[i]);
	for(;;) {
		f = fps[i];
		if(f == 0)
			return NULL;
		if(f == want) {
			e = &tab[i];
			if(e->lo == lo && e->hi == hi && e->len == len)
				return e;
		}
		if(++i == cap)
			i = 0;
	}
}

static int sbct_fill(
		const sbct_index_t *idx, const sbct_entry_t *e, sbct_result_t *res)
{
	const sbct_tenant_t *t =
			(const sbct_tenant_t *)((const char *)idx + idx->off_tenants)
			+ e->tenant;
	const char *pool = (const char *)idx + idx->off_pool;

	res->is_prefix = (e->flags & SBCT_F_PREFIX) ? 1 : 0;
	res->tenant_id = t->id;
	res->tenant = pool + t->name_off;
	res->tenant_len = t->name_len;
	res->tenant_enabled = t->enabled;
	res->gateway_group = e->group >= 0 ? e->group : t->gateway_group;
	res->fallback_group = t->fallback_group;
	res->max_calls = t->max_calls;
	res->max_cps = t->max_cps;
	res->attrs = pool + t->attrs_off;
	res->attrs_len = t->attrs_len;
	if(e->uri_len) {
		res->gateway_uri = pool + e->uri_off;
		res->gateway_uri_len = e->uri_len;
	}
	res->pattern_len = sbct_unpack(e, res->pattern);
	if(!t->enabled)
		return SBCT_DISABLED;
	return res->is_prefix ? SBCT_PREFIX : SBCT_EXACT;
}

int sbct_lookup(const sbct_index_t *idx, const char *did, size_t len,
		sbct_result_t *res)
{
	const sbct_entry_t *e;
	uint64_t lo = 0, hi = 0, mask;
	unsigned l;
	int n;

	/* no memset of the whole result: the rest is set by sbct_fill() for
	 * the found codes only */
	res->is_prefix = 0;
	res->tenant_id = 0;
	res->tenant = NULL;
	res->tenant_len = 0;
	res->attrs = "";
	res->attrs_len = 0;
	res->gateway_uri = NULL;
	res->gateway_uri_len = 0;
	res->did[0] = '\0';
	res->did_len = 0;
	res->pattern[0] = '\0';
	res->pattern_len = 0;
	res->code = SBCT_INVALID;
	if(did == NULL)
		return res->code;
	if(len > 0 && did[0] == '+') {
		did++;
		len--;
	}
	if(len == 0 || (n = sbct_pack_digits(did, len, &lo, &hi, res->did)) < 0) {
		res->did[0] = '\0';
		return res->code;
	}
	res->did[n] = '\0';
	res->did_len = (size_t)n;
	if(idx == NULL)
		return res->code = SBCT_ERROR;

	e = sbct_find(idx, &idx->exact, lo, hi, (unsigned)n);
	if(e == NULL) {
		/* prefix lengths 0..n that exist, longest first */
		mask = idx->prefix_mask & ((2ULL << n) - 1);
		while(mask) {
			l = 63 - (unsigned)__builtin_clzll(mask);
			mask &= ~(1ULL << l);
			e = sbct_find(idx, &idx->prefix, lo & sbct_mask_lo(l),
					hi & sbct_mask_hi(l), l);
			if(e)
				break;
		}
	}
	if(e == NULL)
		return res->code = SBCT_NOT_FOUND;
	return res->code = sbct_fill(idx, e, res);
}

const char *sbct_add_reason(int rc)
{
	switch(rc) {
		case SBCT_ADD_OK:
			return "ok";
		case SBCT_ADD_NULL_DID:
			return "NULL did";
		case SBCT_ADD_BAD_DID:
			return "invalid did pattern";
		case SBCT_ADD_UNKNOWN_TENANT:
			return "unknown tenant id";
		case SBCT_ADD_BAD_GROUP:
			return "negative gateway group";
		case SBCT_ADD_BAD_URI:
			return "gateway_uri too long or has a NUL byte";
		case SBCT_ADD_BAD_NAME:
			return "tenant name empty, too long or has a NUL byte";
		case SBCT_ADD_DUP_TENANT:
			return "duplicate tenant id";
		case SBCT_ADD_SEALED:
			return "tenant added after DID rows";
		case SBCT_ADD_BAD_ATTRS:
			return "tenant attrs too long or has a NUL byte";
		case SBCT_ADD_NOMEM:
			return "out of memory";
	}
	return "unknown";
}

const char *sbct_code_str(int code)
{
	switch(code) {
		case SBCT_EXACT:
			return "exact";
		case SBCT_PREFIX:
			return "prefix";
		case SBCT_NOT_FOUND:
			return "not found";
		case SBCT_DISABLED:
			return "disabled";
		case SBCT_INVALID:
			return "invalid";
		case SBCT_ERROR:
			return "error";
	}
	return "unknown";
}
