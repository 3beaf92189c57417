/*
 * libFuzzer harness: sbc_tenant DID pattern parsing, index build and
 * lookup (src/modules/sbc_tenant/sbct_index.c, sbct_build.c).
 *
 * The input is a small script, one command per line:
 *   t<id>,<group>,<fallback>,<enabled>,<max_calls>,<max_cps>,<attrs>,<name>
 *                                   add a tenant (<attrs> empty = none,
 *                                   <name> is the rest of the line)
 *   d<id>,<tenant>,<priority>,<group>,<uri>,<did>
 *                                   add a did_routing row; <group> empty =
 *                                   SQL NULL, <uri> empty = none, <did> is
 *                                   the rest of the line (any bytes)
 *   D<id>,<tenant>,<priority>,<group>,<uri>
 *                                   a row whose did is SQL NULL
 *   l<did>                          look the rest of the line up once the
 *                                   index is built
 *   m<n>                            let the next n allocations succeed and
 *                                   fail all later ones (n < 0: as 0)
 * Every result is checked against a plain reference model kept by the
 * harness: the return code of each add, the build statistics, the tenant
 * table, and for each lookup the code, the normalized DID and the matched
 * row (exact first, else the longest prefix, duplicates resolved by
 * priority then row id) with all its tenant fields and attrs. Allocation failures
 * must leave nothing allocated.
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 */

#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sbct_index.h"
#include "fuzz_util.h"

#define MAX_TENANTS 256
#define MAX_DIDS 1024
#define MAX_LOOKUPS 256

/* ---- allocator with accounting and failure injection ----------------- */

typedef struct fuzz_mem
{
	long live;
	long count;
	long fail_after; /* < 0: never fail */
} fuzz_mem_t;

/* The builder collects rows in 2.6 MB chunks. ASan maps, poisons and
 * quarantines a fresh block that large on every malloc, which made the
 * harness some 20 times slower; one freed block of 1 MB or more is kept
 * and handed out again for the same size (overflows of it are still
 * caught: it keeps the redzones of its size). */
#define BIG_BLOCK (1 << 20)
static void *g_big;
static size_t g_big_size;

static void *m_alloc(size_t size, void *ctx)
{
	fuzz_mem_t *m = ctx;
	void *p;

	if(m->fail_after >= 0 && m->count >= m->fail_after)
		return NULL;
	if(g_big && size == g_big_size) {
		p = g_big;
		g_big = NULL;
	} else {
		p = malloc(size);
	}
	if(p) {
		m->count++;
		m->live++;
	}
	return p;
}

static void m_free(void *p, void *ctx)
{
	fuzz_mem_t *m = ctx;
	size_t size = malloc_usable_size(p);

	if(size >= BIG_BLOCK && g_big == NULL) {
		g_big = p;
		g_big_size = size;
	} else {
		free(p);
	}
	m->live--;
}

/* ---- reference model -------------------------------------------------- */

typedef struct ref_tenant
{
	sbct_tenant_row_t row;
} ref_tenant_t;

typedef struct ref_did
{
	sbct_did_row_t row;
	int tenant; /* index into the reference tenants */
	char digits[SBCT_DID_MAX + 1];
	size_t n;
	int prefix;
	int plus;
} ref_did_t;

typedef struct ref
{
	ref_tenant_t t[MAX_TENANTS];
	int nt;
	int sealed;
	ref_did_t d[MAX_DIDS];
	int nd;
	int win[MAX_DIDS]; /* indexes into d of the rows kept, one per key */
	int nwin;
	uint32_t dups;
	uint32_t dup_calls;
} ref_t;

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* did_routing.did: [+]digits[*] with 1..32 digits, or a bare "*" */
static int ref_pattern(const char *s, size_t len, ref_did_t *d)
{
	size_t i;

	d->plus = len > 0 && s[0] == '+';
	if(d->plus) {
		s++;
		len--;
	}
	d->prefix = len > 0 && s[len - 1] == '*';
	if(d->prefix)
		len--;
	if(len == 0)
		return (d->prefix && !d->plus) ? (d->n = 0, d->digits[0] = '\0', 0)
									   : -1;
	if(len > SBCT_DID_MAX)
		return -1;
	for(i = 0; i < len; i++)
		if(!is_digit(s[i]))
			return -1;
	memcpy(d->digits, s, len);
	d->digits[len] = '\0';
	d->n = len;
	return 0;
}

/* a DID to look up: one '+' stripped, then 1..32 digits */
static int ref_normalize(const char *s, size_t len, char *out)
{
	size_t i;

	if(len > 0 && s[0] == '+') {
		s++;
		len--;
	}
	if(len == 0 || len > SBCT_DID_MAX)
		return -1;
	for(i = 0; i < len; i++)
		if(!is_digit(s[i]))
			return -1;
	memcpy(out, s, len);
	out[len] = '\0';
	return (int)len;
}

/* the tenant of this id: the first row added with it */
static int ref_tenant(const ref_t *r, uint32_t id)
{
	int i;

	for(i = 0; i < r->nt; i++)
		if(r->t[i].row.id == id)
			return i;
	return -1;
}

static int ref_add_tenant(ref_t *r, const sbct_tenant_row_t *t)
{
	if(r->sealed)
		return SBCT_ADD_SEALED;
	if(t->name == NULL || t->name_len == 0 || t->name_len > SBCT_NAME_MAX)
		return SBCT_ADD_BAD_NAME;
	if(t->gateway_group < 0 || t->fallback_group < 0)
		return SBCT_ADD_BAD_GROUP;
	if(t->attrs_len > SBCT_ATTRS_MAX)
		return SBCT_ADD_BAD_ATTRS;
	if(memchr(t->name, '\0', t->name_len))
		return SBCT_ADD_BAD_NAME;
	if(t->attrs_len > 0 && memchr(t->attrs, '\0', t->attrs_len))
		return SBCT_ADD_BAD_ATTRS;
	return SBCT_ADD_OK;
}

static int ref_add_did(ref_t *r, const sbct_did_row_t *row, ref_did_t *d)
{
	if(row->did == NULL)
		return SBCT_ADD_NULL_DID;
	if(ref_pattern(row->did, row->did_len, d) < 0)
		return SBCT_ADD_BAD_DID;
	r->sealed = 1;
	d->tenant = ref_tenant(r, row->tenant_id);
	if(d->tenant < 0)
		return SBCT_ADD_UNKNOWN_TENANT;
	if(row->has_group && row->gateway_group < 0)
		return SBCT_ADD_BAD_GROUP;
	if(row->gateway_uri && row->gateway_uri_len > SBCT_URI_MAX)
		return SBCT_ADD_BAD_URI;
	if(row->gateway_uri && memchr(row->gateway_uri, '\0', row->gateway_uri_len))
		return SBCT_ADD_BAD_URI;
	return SBCT_ADD_OK;
}

static int same_key(const ref_did_t *a, const ref_did_t *b)
{
	return a->prefix == b->prefix && a->n == b->n
		   && memcmp(a->digits, b->digits, a->n) == 0;
}

/* duplicates: higher priority wins, then the lower row id, then the
 * row added first */
static void ref_place(ref_t *r)
{
	int i, j;
	const ref_did_t *x, *y;

	for(i = 0; i < r->nd; i++) {
		for(j = 0; j < r->nwin; j++)
			if(same_key(&r->d[i], &r->d[r->win[j]]))
				break;
		if(j == r->nwin) {
			r->win[r->nwin++] = i;
			continue;
		}
		r->dups++;
		x = &r->d[i];
		y = &r->d[r->win[j]];
		if(x->row.priority > y->row.priority
				|| (x->row.priority == y->row.priority && x->row.id < y->row.id))
			r->win[j] = i;
	}
}

/* exact match first, else the longest prefix of the DID */
static const ref_did_t *ref_lookup(const ref_t *r, const char *did, size_t n)
{
	const ref_did_t *best = NULL, *d;
	int j;

	for(j = 0; j < r->nwin; j++) {
		d = &r->d[r->win[j]];
		if(!d->prefix && d->n == n && memcmp(d->digits, did, n) == 0)
			return d;
		if(d->prefix && d->n <= n && memcmp(d->digits, did, d->n) == 0
				&& (best == NULL || d->n > best->n))
			best = d;
	}
	return best;
}

/* ---- checks ------------------------------------------------------------ */

/* attrs as the index returns them: "" when the row has none */
static int same_attrs(const char *a, size_t alen, const sbct_tenant_row_t *t)
{
	return alen == t->attrs_len && a != NULL && a[alen] == '\0'
		   && (alen == 0 || memcmp(a, t->attrs, alen) == 0);
}

static void check_tenant_info(const sbct_tenant_info_t *ti,
		const sbct_tenant_row_t *t)
{
	FUZZ_CHECK(ti->id == t->id, "tenant id %u != %u", ti->id, t->id);
	FUZZ_CHECK(ti->name_len == t->name_len
					   && memcmp(ti->name, t->name, t->name_len) == 0
					   && ti->name[ti->name_len] == '\0',
			"tenant %u name", t->id);
	FUZZ_CHECK(ti->gateway_group == t->gateway_group
					   && ti->fallback_group == t->fallback_group
					   && ti->max_calls == t->max_calls
					   && ti->max_cps == t->max_cps
					   && ti->enabled == (t->enabled ? 1 : 0),
			"tenant %u fields", t->id);
	FUZZ_CHECK(same_attrs(ti->attrs, ti->attrs_len, t), "tenant %u attrs",
			t->id);
}

static void check_index(const ref_t *r, const sbct_index_t *idx,
		const sbct_build_stats_t *st)
{
	uint32_t exact = 0, prefixes = 0, ntenants = 0, i;
	sbct_tenant_info_t ti, prev;
	int j;

	for(j = 0; j < r->nwin; j++) {
		if(r->d[r->win[j]].prefix)
			prefixes++;
		else
			exact++;
	}
	for(j = 0; j < r->nt; j++)
		if(ref_tenant(r, r->t[j].row.id) == j)
			ntenants++;
	FUZZ_CHECK(st->exact == exact && st->prefixes == prefixes
					   && st->dids == exact + prefixes,
			"stats exact %u/%u prefixes %u/%u", st->exact, exact,
			st->prefixes, prefixes);
	FUZZ_CHECK(st->duplicates == r->dups && r->dup_calls == r->dups,
			"duplicates %u, callbacks %u, expected %u", st->duplicates,
			r->dup_calls, r->dups);
	FUZZ_CHECK(st->tenants == ntenants
					   && st->tenant_duplicates == (uint32_t)r->nt - ntenants,
			"tenants %u (dup %u), expected %u of %d", st->tenants,
			st->tenant_duplicates, ntenants, r->nt);
	FUZZ_CHECK(sbct_index_dids(idx) == exact + prefixes
					   && sbct_index_tenants(idx) == ntenants
					   && sbct_index_size(idx) == st->block_size
					   && sbct_index_string_bytes(idx) == st->string_bytes,
			"index accessors");
	sbct_index_counts(idx, &i, &ntenants);
	FUZZ_CHECK(i == exact && ntenants == prefixes, "sbct_index_counts");

	for(i = 0; i < sbct_index_tenants(idx); i++) {
		FUZZ_CHECK(sbct_index_tenant_at(idx, i, &ti) == 0, "tenant_at %u", i);
		FUZZ_CHECK(i == 0 || ti.id > prev.id, "tenants not sorted by id");
		j = ref_tenant(r, ti.id);
		FUZZ_CHECK(j >= 0, "tenant %u not added", ti.id);
		check_tenant_info(&ti, &r->t[j].row);
		prev = ti;
	}
	FUZZ_CHECK(sbct_index_tenant_at(idx, i, &ti) < 0, "tenant_at past end");
	for(j = 0; j < r->nt; j++) {
		FUZZ_CHECK(sbct_index_tenant(idx, r->t[j].row.id, &ti) == 0,
				"tenant %u missing", r->t[j].row.id);
		check_tenant_info(&ti, &r->t[ref_tenant(r, r->t[j].row.id)].row);
	}
}

/* whatever the model says: the pattern found matches the DID */
static void check_match(const sbct_result_t *res)
{
	const char *p = res->pattern + (res->pattern[0] == '+');
	size_t n = strspn(p, "0123456789");

	FUZZ_CHECK(n <= res->did_len && memcmp(p, res->did, n) == 0,
			"pattern '%s' is no prefix of '%s'", res->pattern, res->did);
	if(res->is_prefix)
		FUZZ_CHECK(strcmp(p + n, "*") == 0, "prefix '%s'", res->pattern);
	else
		FUZZ_CHECK(p[n] == '\0' && n == res->did_len,
				"exact '%s' for '%s'", res->pattern, res->did);
}

static void check_lookup(const ref_t *r, const sbct_index_t *idx,
		const char *s, size_t len)
{
	char did[SBCT_DID_MAX + 1], norm[SBCT_DID_MAX + 1], pat[SBCT_PATTERN_MAX + 1];
	const ref_did_t *d;
	const sbct_tenant_row_t *t;
	sbct_result_t res;
	int n, code;
	size_t plen = 0;

	n = ref_normalize(s, len, did);
	FUZZ_CHECK(sbct_normalize(s, len, norm) == n, "sbct_normalize rc");
	FUZZ_CHECK(n < 0 || strcmp(norm, did) == 0, "sbct_normalize digits");
	code = sbct_lookup(idx, s, len, &res);
	FUZZ_CHECK(code == res.code, "return code %d != res.code %d", code,
			res.code);
	if(n < 0) {
		FUZZ_CHECK(code == SBCT_INVALID && res.did_len == 0 && res.did[0] == 0
						   && res.attrs_len == 0,
				"invalid DID gave %d", code);
		return;
	}
	FUZZ_CHECK(res.did_len == (size_t)n && strcmp(res.did, did) == 0,
			"normalized DID '%s' != '%s'", res.did, did);
	d = ref_lookup(r, did, (size_t)n);
	if(d == NULL) {
		FUZZ_CHECK(code == SBCT_NOT_FOUND && res.pattern_len == 0
						   && res.tenant == NULL && res.gateway_uri == NULL
						   && res.attrs_len == 0 && strcmp(res.attrs, "") == 0,
				"'%s': expected not found, got %d pattern '%s'", did, code,
				res.pattern);
		return;
	}
	t = &r->t[d->tenant].row;
	FUZZ_CHECK(code == (!t->enabled ? SBCT_DISABLED
								   : d->prefix ? SBCT_PREFIX : SBCT_EXACT),
			"'%s': code %d, expected row %u", did, code, d->row.id);
	if(d->plus)
		pat[plen++] = '+';
	memcpy(pat + plen, d->digits, d->n);
	plen += d->n;
	if(d->prefix)
		pat[plen++] = '*';
	pat[plen] = '\0';
	FUZZ_CHECK(res.pattern_len == plen && strcmp(res.pattern, pat) == 0,
			"'%s': pattern '%s', expected '%s' (row %u)", did, res.pattern,
			pat, d->row.id);
	check_match(&res);
	FUZZ_CHECK(res.is_prefix == d->prefix, "is_prefix");
	FUZZ_CHECK(res.tenant_id == t->id && res.tenant_len == t->name_len
					   && memcmp(res.tenant, t->name, t->name_len) == 0
					   && res.tenant_enabled == (t->enabled ? 1 : 0)
					   && same_attrs(res.attrs, res.attrs_len, t),
			"'%s': tenant %u, expected %u", did, res.tenant_id, t->id);
	FUZZ_CHECK(res.gateway_group
							   == (d->row.has_group ? d->row.gateway_group
													: t->gateway_group)
					   && res.fallback_group == t->fallback_group
					   && res.max_calls == t->max_calls
					   && res.max_cps == t->max_cps,
			"'%s': group/limits", did);
	if(d->row.gateway_uri == NULL || d->row.gateway_uri_len == 0)
		FUZZ_CHECK(res.gateway_uri == NULL && res.gateway_uri_len == 0,
				"'%s': unexpected gateway_uri", did);
	else
		FUZZ_CHECK(res.gateway_uri_len == d->row.gateway_uri_len
						   && memcmp(res.gateway_uri, d->row.gateway_uri,
									  res.gateway_uri_len)
									  == 0
						   && res.gateway_uri[res.gateway_uri_len] == '\0',
				"'%s': gateway_uri", did);
}

/* the digits of every row kept, and one digit more for prefixes */
static void check_row_hits(const ref_t *r, const sbct_index_t *idx,
		const ref_did_t *d)
{
	char s[SBCT_DID_MAX + 2];
	size_t n = 0;

	if(d->plus)
		s[n++] = '+';
	memcpy(s + n, d->digits, d->n);
	n += d->n;
	check_lookup(r, idx, s, n);
	if(d->prefix && d->n < SBCT_DID_MAX) {
		s[n++] = '7';
		check_lookup(r, idx, s, n);
	}
}

/* ---- driver ------------------------------------------------------------ */

static void on_dup(uint32_t kept, uint32_t dropped, void *ctx)
{
	(void)kept;
	(void)dropped;
	((ref_t *)ctx)->dup_calls++;
}

static ref_t g_ref; /* too big for the stack */

static void parse_did_row(
		fuzz_span_t *l, int null_did, sbct_did_row_t *row)
{
	fuzz_span_t g, u;

	memset(row, 0, sizeof(*row));
	row->id = (uint32_t)fuzz_ll(fuzz_field(l, ','));
	row->tenant_id = (uint32_t)fuzz_ll(fuzz_field(l, ','));
	row->priority = (int32_t)fuzz_ll(fuzz_field(l, ','));
	g = fuzz_field(l, ',');
	row->has_group = g.len > 0;
	row->gateway_group = (int32_t)fuzz_ll(g);
	u = fuzz_field(l, ',');
	if(u.len > 0) {
		row->gateway_uri = u.s;
		row->gateway_uri_len = u.len;
	}
	if(!null_did) {
		row->did = l->s;
		row->did_len = l->len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_mem_t mem = {0, 0, -1};
	sbct_alloc_t a = {m_alloc, m_free, &mem};
	fuzz_span_t in = {(const char *)data, size}, l, look[MAX_LOOKUPS], f;
	sbct_builder_t *b;
	sbct_index_t *idx = NULL;
	sbct_build_stats_t st;
	sbct_tenant_row_t t;
	sbct_did_row_t row;
	ref_t *r = &g_ref;
	ref_did_t d;
	int nlook = 0, rc, want, i, nomem = 0;
	char op;

	memset(r, 0, sizeof(*r));
	b = sbct_builder_new(&a);
	FUZZ_CHECK(b != NULL, "builder_new");
	sbct_builder_set_dup_cb(b, on_dup, r);
	while(!nomem && fuzz_line(&in, &l)) {
		if(l.len == 0)
			continue;
		op = l.s[0];
		l.s++;
		l.len--;
		switch(op) {
			case 't':
				if(r->nt == MAX_TENANTS)
					break;
				memset(&t, 0, sizeof(t));
				t.id = (uint32_t)fuzz_ll(fuzz_field(&l, ','));
				t.gateway_group = (int32_t)fuzz_ll(fuzz_field(&l, ','));
				t.fallback_group = (int32_t)fuzz_ll(fuzz_field(&l, ','));
				t.enabled = (int)fuzz_ll(fuzz_field(&l, ','));
				t.max_calls = (int32_t)fuzz_ll(fuzz_field(&l, ','));
				t.max_cps = (int32_t)fuzz_ll(fuzz_field(&l, ','));
				f = fuzz_field(&l, ',');
				if(f.len > 0) {
					t.attrs = f.s;
					t.attrs_len = f.len;
				}
				t.name = l.s;
				t.name_len = l.len;
				want = ref_add_tenant(r, &t);
				rc = sbct_builder_add_tenant(b, &t);
				if(rc == SBCT_ADD_NOMEM && mem.fail_after >= 0) {
					nomem = 1;
					break;
				}
				FUZZ_CHECK(rc == want, "add_tenant %u: %d, expected %d", t.id,
						rc, want);
				if(rc == SBCT_ADD_OK)
					r->t[r->nt++].row = t;
				break;
			case 'd':
			case 'D':
				if(r->nd == MAX_DIDS)
					break;
				parse_did_row(&l, op == 'D', &row);
				memset(&d, 0, sizeof(d));
				want = ref_add_did(r, &row, &d);
				rc = sbct_builder_add_did(b, &row);
				if(rc == SBCT_ADD_NOMEM && mem.fail_after >= 0) {
					nomem = 1;
					break;
				}
				FUZZ_CHECK(rc == want, "add_did %u: %d, expected %d", row.id,
						rc, want);
				if(rc == SBCT_ADD_OK) {
					d.row = row;
					r->d[r->nd++] = d;
				}
				break;
			case 'l':
				if(nlook < MAX_LOOKUPS)
					look[nlook++] = l;
				break;
			case 'm':
				want = (int)fuzz_ll(l);
				mem.fail_after = mem.count + (want > 0 ? want : 0);
				break;
		}
	}
	if(!nomem) {
		idx = sbct_builder_finish(b, &st);
		FUZZ_CHECK(idx != NULL || mem.fail_after >= 0, "finish failed");
	}
	sbct_builder_free(b);
	if(idx) {
		ref_place(r);
		check_index(r, idx, &st);
		for(i = 0; i < nlook; i++)
			check_lookup(r, idx, look[i].s, look[i].len);
		for(i = 0; i < r->nwin; i++)
			check_row_hits(r, idx, &r->d[r->win[i]]);
		sbct_index_free(idx, &a);
	}
	FUZZ_CHECK(mem.live == 0, "%ld allocations leaked", mem.live);
	return 0;
}
