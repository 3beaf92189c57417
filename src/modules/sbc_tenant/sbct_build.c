/*
 * sbc_tenant - builder of the DID index (pure C, see sbct_index_int.h)
 *
 * Rows are collected in fixed-size chunks (no realloc of a huge array),
 * strings are interned into one pool, then finish() places every row into
 * a table of row numbers (dropping duplicate patterns) and copies the
 * winners into the final block at the same slot positions.
 */

#include <stdlib.h>
#include <string.h>

#include "sbct_index_int.h"

#define SBCT_CHUNK_BITS 16
#define SBCT_CHUNK_ROWS (1u << SBCT_CHUNK_BITS)
#define SBCT_MAX_ROWS (1u << 30)
#define SBCT_POOL_MAX 0xffffff00u

typedef struct sbct_brow
{
	sbct_entry_t e;
	int32_t priority;
	uint32_t row_id;
} sbct_brow_t;

typedef struct sbct_btenant
{
	sbct_tenant_t t;
	uint32_t seq; /* order of the adds: the first of a duplicate id wins */
} sbct_btenant_t;

struct sbct_builder
{
	sbct_alloc_t a;
	sbct_btenant_t *tenants;
	uint32_t n_tenants;
	uint32_t cap_tenants;
	uint32_t dup_tenants;
	int sealed; /* tenants sorted, no more tenants accepted */
	char *pool;
	size_t pool_len;
	size_t pool_cap;
	uint32_t *intern; /* pool offsets of distinct strings, 0 = empty */
	uint32_t intern_cap;
	uint32_t intern_n;
	sbct_brow_t **chunks;
	uint32_t n_chunks;
	uint32_t cap_chunks;
	uint32_t n_rows;
	uint32_t n_prefix_rows;
	sbct_dup_cb_t dup_cb;
	void *dup_ctx;
};

/* ---- memory helpers -------------------------------------------------- */

static void *sbct_zalloc(const sbct_alloc_t *a, size_t size)
{
	void *p = a->alloc(size, a->ctx);
	if(p)
		memset(p, 0, size);
	return p;
}

/* grow *p from old_size to new_size bytes (contents kept) */
static int sbct_grow(
		const sbct_alloc_t *a, void **p, size_t old_size, size_t new_size)
{
	void *n = a->alloc(new_size, a->ctx);
	if(n == NULL)
		return -1;
	if(*p) {
		memcpy(n, *p, old_size);
		a->free(*p, a->ctx);
	}
	*p = n;
	return 0;
}

/* ---- string pool ----------------------------------------------------- */

static uint32_t sbct_str_hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u;
	size_t i;

	for(i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

static int sbct_intern_rehash(sbct_builder_t *b)
{
	uint32_t ncap = b->intern_cap ? b->intern_cap * 2 : 64;
	uint32_t *nt, i, j, off;

	nt = sbct_zalloc(&b->a, ncap * sizeof(uint32_t));
	if(nt == NULL)
		return -1;
	for(i = 0; i < b->intern_cap; i++) {
		off = b->intern[i];
		if(off == 0)
			continue;
		j = sbct_str_hash(b->pool + off, strlen(b->pool + off)) & (ncap - 1);
		while(nt[j])
			j = (j + 1) & (ncap - 1);
		nt[j] = off;
	}
	if(b->intern)
		b->a.free(b->intern, b->a.ctx);
	b->intern = nt;
	b->intern_cap = ncap;
	return 0;
}

/* store a string once in the pool; returns its offset, 0 for "", -1 when
 * out of memory, -2 if the string contains a NUL */
static int64_t sbct_intern(sbct_builder_t *b, const char *s, size_t len)
{
	uint32_t j, off;
	size_t ncap;

	if(len == 0)
		return 0;
	if(memchr(s, '\0', len))
		return -2;
	if((b->intern_n + 1) * 2 > b->intern_cap && sbct_intern_rehash(b) < 0)
		return -1;
	j = sbct_str_hash(s, len) & (b->intern_cap - 1);
	while((off = b->intern[j]) != 0) {
		/* strncmp: a shorter pooled string ends the compare at its NUL
		 * (s has none), where memcmp could read past the pool */
		if(strncmp(b->pool + off, s, len) == 0 && b->pool[off + len] == '\0')
			return off;
		j = (j + 1) & (b->intern_cap - 1);
	}
	if(b->pool_len + len + 1 > SBCT_POOL_MAX)
		return -1;
	if(b->pool_len + len + 1 > b->pool_cap) {
		ncap = b->pool_cap * 2;
		while(ncap < b->pool_len + len + 1)
			ncap *= 2;
		if(sbct_grow(&b->a, (void **)&b->pool, b->pool_len, ncap) < 0)
			return -1;
		b->pool_cap = ncap;
	}
	off = (uint32_t)b->pool_len;
	memcpy(b->pool + off, s, len);
	b->pool[off + len] = '\0';
	b->pool_len += len + 1;
	b->intern[j] = off;
	b->intern_n++;
	return off;
}

/* ---- tenants --------------------------------------------------------- */

sbct_builder_t *sbct_builder_new(const sbct_alloc_t *a)
{
	sbct_builder_t *b;

	b = sbct_zalloc(a, sizeof(*b));
	if(b == NULL)
		return NULL;
	b->a = *a;
	b->pool_cap = 4096;
	b->pool = sbct_zalloc(a, b->pool_cap);
	if(b->pool == NULL) {
		a->free(b, a->ctx);
		return NULL;
	}
	b->pool_len = 1; /* offset 0 is the empty string */
	return b;
}

void sbct_builder_free(sbct_builder_t *b)
{
	uint32_t i;

	if(b == NULL)
		return;
	for(i = 0; i < b->n_chunks; i++)
		b->a.free(b->chunks[i], b->a.ctx);
	if(b->chunks)
		b->a.free(b->chunks, b->a.ctx);
	if(b->intern)
		b->a.free(b->intern, b->a.ctx);
	if(b->tenants)
		b->a.free(b->tenants, b->a.ctx);
	b->a.free(b->pool, b->a.ctx);
	b->a.free(b, b->a.ctx);
}

int sbct_builder_add_tenant(sbct_builder_t *b, const sbct_tenant_row_t *t)
{
	sbct_tenant_t *nt;
	int64_t off, aoff;
	uint32_t ncap;

	if(b->sealed)
		return SBCT_ADD_SEALED;
	if(t->name == NULL || t->name_len == 0 || t->name_len > SBCT_NAME_MAX)
		return SBCT_ADD_BAD_NAME;
	if(t->gateway_group < 0 || t->fallback_group < 0)
		return SBCT_ADD_BAD_GROUP;
	if(b->n_tenants == b->cap_tenants) {
		ncap = b->cap_tenants ? b->cap_tenants * 2 : 64;
		if(sbct_grow(&b->a, (void **)&b->tenants,
				   b->n_tenants * sizeof(sbct_btenant_t),
				   ncap * sizeof(sbct_btenant_t))
				< 0)
			return SBCT_ADD_NOMEM;
		b->cap_tenants = ncap;
	}
	if(t->attrs_len > SBCT_ATTRS_MAX || (t->attrs_len > 0 && t->attrs == NULL))
		return SBCT_ADD_BAD_ATTRS;
	off = sbct_intern(b, t->name, t->name_len);
	if(off == -2)
		return SBCT_ADD_BAD_NAME;
	if(off < 0)
		return SBCT_ADD_NOMEM;
	aoff = sbct_intern(b, t->attrs, t->attrs_len);
	if(aoff == -2)
		return SBCT_ADD_BAD_ATTRS;
	if(aoff < 0)
		return SBCT_ADD_NOMEM;
	b->tenants[b->n_tenants].seq = b->n_tenants;
	nt = &b->tenants[b->n_tenants++].t;
	memset(nt, 0, sizeof(*nt));
	nt->id = t->id;
	nt->gateway_group = t->gateway_group;
	nt->fallback_group = t->fallback_group;
	nt->max_calls = t->max_calls;
	nt->max_cps = t->max_cps;
	nt->name_off = (uint32_t)off;
	nt->name_len = (uint16_t)t->name_len;
	nt->attrs_off = (uint32_t)aoff;
	nt->attrs_len = (uint16_t)t->attrs_len;
	nt->enabled = t->enabled ? 1 : 0;
	return SBCT_ADD_OK;
}

static int sbct_tenant_cmp(const void *a, const void *b)
{
	const sbct_btenant_t *x = a, *y = b;

	if(x->t.id != y->t.id)
		return x->t.id < y->t.id ? -1 : 1;
	/* same id (impossible with the PK): keep the first one added */
	return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

/* sort tenants by id (for the binary search of DID rows), drop dup ids */
static void sbct_seal_tenants(sbct_builder_t *b)
{
	uint32_t i, n = 0;

	if(b->sealed)
		return;
	b->sealed = 1;
	if(b->n_tenants == 0)
		return;
	qsort(b->tenants, b->n_tenants, sizeof(sbct_btenant_t), sbct_tenant_cmp);
	for(i = 0; i < b->n_tenants; i++) {
		if(n > 0 && b->tenants[n - 1].t.id == b->tenants[i].t.id)
			continue;
		b->tenants[n++] = b->tenants[i];
	}
	b->dup_tenants = b->n_tenants - n;
	b->n_tenants = n;
}

static int64_t sbct_tenant_find(
		const sbct_btenant_t *t, uint32_t n, uint32_t id)
{
	uint32_t l = 0, r = n, m;

	while(l < r) {
		m = l + (r - l) / 2;
		if(t[m].t.id == id)
			return m;
		if(t[m].t.id < id)
			l = m + 1;
		else
			r = m;
	}
	return -1;
}

/* ---- DID rows -------------------------------------------------------- */

static inline sbct_brow_t *sbct_row(const sbct_builder_t *b, uint32_t i)
{
	return &b->chunks[i >> SBCT_CHUNK_BITS][i & (SBCT_CHUNK_ROWS - 1)];
}

static sbct_brow_t *sbct_new_row(sbct_builder_t *b)
{
	uint32_t ncap;

	if(b->n_rows >= SBCT_MAX_ROWS)
		return NULL;
	if((b->n_rows & (SBCT_CHUNK_ROWS - 1)) == 0) {
		if(b->n_chunks == b->cap_chunks) {
			ncap = b->cap_chunks ? b->cap_chunks * 2 : 16;
			if(sbct_grow(&b->a, (void **)&b->chunks,
					   b->n_chunks * sizeof(sbct_brow_t *),
					   ncap * sizeof(sbct_brow_t *))
					< 0)
				return NULL;
			b->cap_chunks = ncap;
		}
		b->chunks[b->n_chunks] =
				b->a.alloc(SBCT_CHUNK_ROWS * sizeof(sbct_brow_t), b->a.ctx);
		if(b->chunks[b->n_chunks] == NULL)
			return NULL;
		b->n_chunks++;
	}
	return sbct_row(b, b->n_rows++);
}

int sbct_builder_add_did(sbct_builder_t *b, const sbct_did_row_t *r)
{
	sbct_entry_t e;
	sbct_brow_t *br;
	int64_t t, uri = 0;

	if(r->did == NULL)
		return SBCT_ADD_NULL_DID;
	memset(&e, 0, sizeof(e));
	if(sbct_parse_pattern(r->did, r->did_len, &e) < 0)
		return SBCT_ADD_BAD_DID;
	sbct_seal_tenants(b);
	t = sbct_tenant_find(b->tenants, b->n_tenants, r->tenant_id);
	if(t < 0)
		return SBCT_ADD_UNKNOWN_TENANT;
	if(r->has_group && r->gateway_group < 0)
		return SBCT_ADD_BAD_GROUP;
	if(r->gateway_uri && r->gateway_uri_len > SBCT_URI_MAX)
		return SBCT_ADD_BAD_URI;
	if(r->gateway_uri && r->gateway_uri_len > 0) {
		uri = sbct_intern(b, r->gateway_uri, r->gateway_uri_len);
		if(uri == -2)
			return SBCT_ADD_BAD_URI;
		if(uri < 0)
			return SBCT_ADD_NOMEM;
		e.uri_len = (uint8_t)r->gateway_uri_len;
	}
	e.uri_off = (uint32_t)uri;
	e.tenant = (uint32_t)t;
	e.group = r->has_group ? r->gateway_group : -1;
	br = sbct_new_row(b);
	if(br == NULL)
		return SBCT_ADD_NOMEM;
	br->e = e;
	br->priority = r->priority;
	br->row_id = r->id;
	if(e.flags & SBCT_F_PREFIX)
		b->n_prefix_rows++;
	return SBCT_ADD_OK;
}

/* ---- finish ---------------------------------------------------------- */

void sbct_builder_set_dup_cb(sbct_builder_t *b, sbct_dup_cb_t cb, void *ctx)
{
	b->dup_cb = cb;
	b->dup_ctx = ctx;
}

/* duplicate patterns: higher priority wins, then the lower row id */
static inline int sbct_row_wins(const sbct_brow_t *x, const sbct_brow_t *y)
{
	if(x->priority != y->priority)
		return x->priority > y->priority;
	return x->row_id < y->row_id;
}

/* place every row into a table of row numbers (exact rows into slot_e,
 * prefix rows into slot_p), dropping duplicate patterns. The positions
 * are final: the index tables use the same ones. Returns duplicates. */
static uint32_t sbct_place_rows(const sbct_builder_t *b, uint32_t *slot_e,
		uint32_t cap_e, uint32_t *slot_p, uint32_t cap_p)
{
	uint32_t r, i, cap, *slots, dups = 0;
	const sbct_brow_t *br, *other;

	for(r = 0; r < b->n_rows; r++) {
		br = sbct_row(b, r);
		if(br->e.flags & SBCT_F_PREFIX) {
			slots = slot_p;
			cap = cap_p;
		} else {
			slots = slot_e;
			cap = cap_e;
		}
		i = sbct_home(br->e.lo, br->e.hi, br->e.len, cap);
		for(;;) {
			if(slots[i] == 0) {
				slots[i] = r + 1;
				break;
			}
			other = sbct_row(b, slots[i] - 1);
			if(sbct_same_key(&br->e, &other->e)) {
				if(sbct_row_wins(br, other)) {
					slots[i] = r + 1;
					if(b->dup_cb)
						b->dup_cb(br->row_id, other->row_id, b->dup_ctx);
				} else if(b->dup_cb) {
					b->dup_cb(other->row_id, br->row_id, b->dup_ctx);
				}
				dups++;
				break;
			}
			if(++i == cap)
				i = 0;
		}
	}
	return dups;
}

/* copy the placed rows into a table of the new index */
static void sbct_fill_table(const sbct_builder_t *b, sbct_index_t *idx,
		sbct_table_t *t, const uint32_t *slots)
{
	sbct_entry_t *tab = sbct_table_at(idx, t);
	uint8_t *fp = sbct_fp_at(idx, t);
	uint32_t i;

	memset(tab, 0, (size_t)t->cap * sizeof(sbct_entry_t));
	memset(fp, 0, t->cap);
	for(i = 0; i < t->cap; i++) {
		if(slots[i] == 0)
			continue;
		tab[i] = sbct_row(b, slots[i] - 1)->e;
		fp[i] = sbct_fp(sbct_key_hash(tab[i].lo, tab[i].hi, tab[i].len));
		t->count++;
		if(tab[i].flags & SBCT_F_PREFIX)
			idx->prefix_mask |= 1ULL << tab[i].len;
	}
}

#define SBCT_ALIGN(n, a) (((n) + (a)-1) & ~(size_t)((a)-1))

/* the tables start on a cache line: offsets are taken from the real
 * address of the block, which never moves */
static size_t sbct_align_at(const void *base, size_t off)
{
	uintptr_t p = (uintptr_t)base + off;
	return off + (size_t)(SBCT_ALIGN(p, 64) - p);
}

sbct_index_t *sbct_builder_finish(sbct_builder_t *b, sbct_build_stats_t *st)
{
	sbct_index_t *idx;
	sbct_tenant_t *tenants;
	uint32_t *slots, cap_e, cap_p, dups, i;
	size_t size, off;

	sbct_seal_tenants(b);
	cap_e = sbct_capacity(b->n_rows - b->n_prefix_rows);
	cap_p = sbct_capacity(b->n_prefix_rows);
	slots = sbct_zalloc(&b->a, ((size_t)cap_e + cap_p) * sizeof(uint32_t));
	if(slots == NULL)
		return NULL;
	dups = sbct_place_rows(b, slots, cap_e, slots + cap_e, cap_p);

	size = SBCT_ALIGN(sizeof(sbct_index_t), 8)
		   + (size_t)b->n_tenants * sizeof(sbct_tenant_t)
		   + 64 + (size_t)cap_e * sizeof(sbct_entry_t)
		   + 64 + (size_t)cap_p * sizeof(sbct_entry_t) + 64 + cap_e + 64
		   + cap_p + b->pool_len;
	size = SBCT_ALIGN(size, 8);
	idx = b->a.alloc(size, b->a.ctx);
	if(idx == NULL) {
		b->a.free(slots, b->a.ctx);
		return NULL;
	}
	memset(idx, 0, sizeof(*idx));
	idx->magic = SBCT_MAGIC;
	idx->size = size;
	idx->n_tenants = b->n_tenants;
	off = SBCT_ALIGN(sizeof(sbct_index_t), 8);
	idx->off_tenants = off;
	tenants = (sbct_tenant_t *)((char *)idx + off);
	for(i = 0; i < b->n_tenants; i++)
		tenants[i] = b->tenants[i].t;
	off += (size_t)b->n_tenants * sizeof(sbct_tenant_t);
	idx->exact.off = sbct_align_at(idx, off);
	idx->exact.cap = cap_e;
	off = idx->exact.off + (size_t)cap_e * sizeof(sbct_entry_t);
	idx->prefix.off = sbct_align_at(idx, off);
	idx->prefix.cap = cap_p;
	off = idx->prefix.off + (size_t)cap_p * sizeof(sbct_entry_t);
	idx->exact.fp_off = sbct_align_at(idx, off);
	off = idx->exact.fp_off + cap_e;
	idx->prefix.fp_off = sbct_align_at(idx, off);
	off = idx->prefix.fp_off + cap_p;
	idx->off_pool = off;
	idx->pool_size = b->pool_len;
	memcpy((char *)idx + off, b->pool, b->pool_len);

	sbct_fill_table(b, idx, &idx->exact, slots);
	sbct_fill_table(b, idx, &idx->prefix, slots + cap_e);
	b->a.free(slots, b->a.ctx);

	if(st) {
		memset(st, 0, sizeof(*st));
		st->tenants = idx->n_tenants;
		st->exact = idx->exact.count;
		st->prefixes = idx->prefix.count;
		st->dids = st->exact + st->prefixes;
		st->duplicates = dups;
		st->tenant_duplicates = b->dup_tenants;
		st->block_size = size;
		st->string_bytes = b->pool_len;
	}
	return idx;
}
