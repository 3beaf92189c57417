/*
 * libFuzzer harness: the packed did_routing records of the MySQL load
 * (src/modules/sbc_tenant/sbct_pack.c).
 *
 * The input is one packed value as MySQL returns it: records separated by
 * ';', split the way sbct_db_packed.c splits them. Each record is parsed
 * by sbct_pack_record() and by a plain reference parser of the format in
 * sbct_pack.h (7 fields, decimal integers of at most 18 digits with an
 * optional '-', "N" for NULL except in id, even-length hex strings, not
 * decoded beyond SBCT_HEX_MAX bytes); both must agree on the result and on
 * every field. A record that parses is written back in the canonical form
 * and must parse again to the same fields.
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 */

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sbct_pack.h"
#include "fuzz_util.h"

#define NFIELDS 7

static int hexv(char c)
{
	if(c >= '0' && c <= '9')
		return c - '0';
	if(c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if(c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int ref_int(fuzz_span_t f, long long *v, int *isnull, int nullable)
{
	size_t i = 0;
	long long x = 0;

	*isnull = 0;
	if(f.len == 1 && f.s[0] == 'N') {
		*isnull = 1;
		return nullable ? 0 : -1;
	}
	if(f.len > 0 && f.s[0] == '-')
		i = 1;
	if(f.len == i || f.len - i > 18)
		return -1;
	for(; i < f.len; i++) {
		if(f.s[i] < '0' || f.s[i] > '9')
			return -1;
		x = x * 10 + (f.s[i] - '0');
	}
	*v = f.s[0] == '-' ? -x : x;
	return 0;
}

static int ref_hex(fuzz_span_t f, char *out, size_t *olen, int *isnull,
		int *toolong)
{
	size_t i;

	*isnull = f.len == 1 && f.s[0] == 'N';
	*toolong = 0;
	*olen = 0;
	if(*isnull)
		return 0;
	if(f.len % 2)
		return -1;
	if(f.len / 2 > SBCT_HEX_MAX) {
		*toolong = 1;
		return 0;
	}
	for(i = 0; i < f.len; i += 2) {
		if(hexv(f.s[i]) < 0 || hexv(f.s[i + 1]) < 0)
			return -1;
		out[i / 2] = (char)(hexv(f.s[i]) << 4 | hexv(f.s[i + 1]));
	}
	*olen = f.len / 2;
	return 0;
}

static int ref_record(const char *s, size_t len, sbct_prec_t *r)
{
	fuzz_span_t in = {s, len}, f[NFIELDS];
	size_t commas = 0, i;
	int dummy;

	memset(r, 0, sizeof(*r));
	for(i = 0; i < len; i++)
		commas += s[i] == ',';
	if(commas != NFIELDS - 1)
		return -1;
	for(i = 0; i < NFIELDS; i++)
		f[i] = fuzz_field(&in, ',');
	if(ref_int(f[0], &r->id, &dummy, 0) < 0
			|| ref_int(f[1], &r->enabled, &r->null_enabled, 1) < 0
			|| ref_int(f[2], &r->tenant, &r->null_tenant, 1) < 0
			|| ref_int(f[3], &r->group, &r->null_group, 1) < 0
			|| ref_int(f[4], &r->priority, &r->null_priority, 1) < 0
			|| ref_hex(f[5], r->did, &r->did_len, &r->null_did, &r->did_long)
					   < 0
			|| ref_hex(f[6], r->uri, &r->uri_len, &r->null_uri, &r->uri_long)
					   < 0)
		return -1;
	return 0;
}

static void check_same(const sbct_prec_t *a, const sbct_prec_t *b)
{
	FUZZ_CHECK(a->id == b->id, "id %lld != %lld", a->id, b->id);
#define SAME_INT(v, n) \
	FUZZ_CHECK(a->n == b->n && (a->n || a->v == b->v), #v " %lld != %lld", a->v, b->v)
	SAME_INT(enabled, null_enabled);
	SAME_INT(tenant, null_tenant);
	SAME_INT(group, null_group);
	SAME_INT(priority, null_priority);
#undef SAME_INT
	FUZZ_CHECK(a->null_did == b->null_did && a->did_long == b->did_long
					   && a->did_len == b->did_len
					   && memcmp(a->did, b->did, a->did_len) == 0,
			"did");
	FUZZ_CHECK(a->null_uri == b->null_uri && a->uri_long == b->uri_long
					   && a->uri_len == b->uri_len
					   && memcmp(a->uri, b->uri, a->uri_len) == 0,
			"uri");
}

static int put_int(char *p, long long v, int isnull)
{
	return isnull ? sprintf(p, "N") : sprintf(p, "%lld", v);
}

static int put_hex(char *p, const char *s, size_t len, int isnull)
{
	size_t i;

	if(isnull)
		return sprintf(p, "N");
	for(i = 0; i < len; i++)
		sprintf(p + 2 * i, "%02X", (unsigned char)s[i]);
	return (int)(2 * len);
}

/* the canonical form of a parsed record (not for "long" strings) */
static size_t canon(const sbct_prec_t *r, char *p)
{
	char *s = p;

	p += put_int(p, r->id, 0);
	*p++ = ',';
	p += put_int(p, r->enabled, r->null_enabled);
	*p++ = ',';
	p += put_int(p, r->tenant, r->null_tenant);
	*p++ = ',';
	p += put_int(p, r->group, r->null_group);
	*p++ = ',';
	p += put_int(p, r->priority, r->null_priority);
	*p++ = ',';
	p += put_hex(p, r->did, r->did_len, r->null_did);
	*p++ = ',';
	p += put_hex(p, r->uri, r->uri_len, r->null_uri);
	return (size_t)(p - s);
}

static sbct_prec_t g_rec, g_ref, g_again;
static char g_canon[5 * 24 + 4 * SBCT_HEX_MAX + 16];

static void one_record(const char *s, const char *e)
{
	int rc, want;
	size_t n;

	memset(&g_rec, 0x5a, sizeof(g_rec)); /* no field may keep old bytes */
	rc = sbct_pack_record(s, e, &g_rec);
	want = ref_record(s, (size_t)(e - s), &g_ref);
	FUZZ_CHECK(rc == want, "record '%.*s': %d, expected %d", (int)(e - s), s,
			rc, want);
	if(rc < 0)
		return;
	check_same(&g_rec, &g_ref);
	FUZZ_CHECK(g_rec.did_len <= SBCT_HEX_MAX && g_rec.uri_len <= SBCT_HEX_MAX,
			"decoded length");
	if(g_rec.did_long || g_rec.uri_long)
		return;
	n = canon(&g_rec, g_canon);
	memset(&g_again, 0x5a, sizeof(g_again));
	FUZZ_CHECK(sbct_pack_record(g_canon, g_canon + n, &g_again) == 0,
			"canonical form '%.*s' does not parse", (int)n, g_canon);
	check_same(&g_rec, &g_again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *end = s + size, *e;

	/* as sbct_pchunk() in sbct_db_packed.c */
	while(s < end) {
		e = memchr(s, ';', (size_t)(end - s));
		if(e == NULL)
			e = end;
		one_record(s, e);
		s = e + 1;
	}
	return 0;
}
