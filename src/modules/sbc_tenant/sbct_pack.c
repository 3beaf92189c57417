/*
 * sbc_tenant - the packed did_routing record format (pure C, no Kamailio)
 * See sbct_pack.h; used by sbct_db_packed.c, unit tested in
 * tests/unit/sbc_tenant/test_sbct_pack.c.
 */

#include <string.h>

#include "sbct_pack.h"

static int sbct_hexval(char c)
{
	if(c >= '0' && c <= '9')
		return c - '0';
	if(c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if(c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* one field up to ',' (or the end of the record); advances *p */
static int sbct_pfield(const char **p, const char *end, const char **f,
		size_t *len)
{
	const char *s = *p, *c = s;

	while(c < end && *c != ',')
		c++;
	*f = s;
	*len = (size_t)(c - s);
	*p = c < end ? c + 1 : c;
	return 0;
}

static int sbct_pint(const char **p, const char *end, long long *v, int *isnull)
{
	const char *f;
	size_t len, i = 0;
	int neg = 0;
	long long x = 0;

	sbct_pfield(p, end, &f, &len);
	*isnull = (len == 1 && f[0] == 'N');
	if(*isnull)
		return 0;
	if(len > 0 && f[0] == '-') {
		neg = 1;
		i = 1;
	}
	if(i == len || len - i > 18)
		return -1;
	for(; i < len; i++) {
		if(f[i] < '0' || f[i] > '9')
			return -1;
		x = x * 10 + (f[i] - '0');
	}
	*v = neg ? -x : x;
	return 0;
}

static int sbct_phex(const char **p, const char *end, char *out, size_t *olen,
		int *isnull, int *toolong)
{
	const char *f;
	size_t len, i;
	int hi, lo;

	sbct_pfield(p, end, &f, &len);
	*isnull = (len == 1 && f[0] == 'N');
	*toolong = 0;
	*olen = 0;
	if(*isnull)
		return 0;
	if(len % 2)
		return -1;
	if(len / 2 > SBCT_HEX_MAX) {
		*toolong = 1;
		return 0;
	}
	for(i = 0; i < len; i += 2) {
		hi = sbct_hexval(f[i]);
		lo = sbct_hexval(f[i + 1]);
		if(hi < 0 || lo < 0)
			return -1;
		out[i / 2] = (char)(hi << 4 | lo);
	}
	*olen = len / 2;
	return 0;
}

int sbct_pack_record(const char *s, const char *end, sbct_prec_t *r)
{
	const char *p = s, *q;
	int isnull, commas = 0;

	/* exactly 7 fields: a short record must not read as empty strings */
	for(q = s; q < end; q++)
		commas += (*q == ',');
	if(commas != 6)
		return -1;
	if(sbct_pint(&p, end, &r->id, &isnull) < 0 || isnull
			|| sbct_pint(&p, end, &r->enabled, &r->null_enabled) < 0
			|| sbct_pint(&p, end, &r->tenant, &r->null_tenant) < 0
			|| sbct_pint(&p, end, &r->group, &r->null_group) < 0
			|| sbct_pint(&p, end, &r->priority, &r->null_priority) < 0
			|| sbct_phex(&p, end, r->did, &r->did_len, &r->null_did,
					   &r->did_long)
					   < 0
			|| sbct_phex(&p, end, r->uri, &r->uri_len, &r->null_uri,
					   &r->uri_long)
					   < 0)
		return -1;
	return p == end ? 0 : -1;
}
