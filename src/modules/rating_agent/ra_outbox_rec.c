/*
 * rating_agent module - outbox records (begin/end/rollback) on the wire
 *
 * This file is part of Kamailio, a free SIP server.
 *
 * Kamailio is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include <limits.h>

#include "ra_outbox_rec.h"

#define RA_REC_MAGIC "RA1"
/* magic, kind, seq, ts, created_ms + the text fields */
#define RA_REC_TOTAL_FIELDS (5 + RA_REC_NFIELDS)

static const char hexd[] = "0123456789ABCDEF";

static const char **text_field(ra_rec_t *r, int i)
{
	const char **f[RA_REC_NFIELDS] = {&r->tag, &r->tenant, &r->account,
			&r->dest_account, &r->source, &r->source_ip, &r->destination,
			&r->carrier_ip};
	return f[i];
}

static int needs_escape(unsigned char c)
{
	return c < 0x20 || c == 0x7f || c == '%' || c == '|';
}

/* append s escaped at buf+pos; returns the new pos or -1 */
static int put_escaped(char *buf, size_t len, int pos, const char *s)
{
	unsigned char c;

	if(s == NULL)
		return pos;
	for(; *s; s++) {
		c = (unsigned char)*s;
		if(needs_escape(c)) {
			if((size_t)pos + 3 >= len)
				return -1;
			buf[pos++] = '%';
			buf[pos++] = hexd[c >> 4];
			buf[pos++] = hexd[c & 0xf];
		} else {
			if((size_t)pos + 1 >= len)
				return -1;
			buf[pos++] = (char)c;
		}
	}
	return pos;
}

int ra_rec_encode(const ra_rec_t *r, char *buf, size_t len)
{
	int pos, i;

	if(r == NULL || buf == NULL || r->tag == NULL || r->tag[0] == '\0')
		return -1;
	if(r->kind != RA_REC_BEGIN && r->kind != RA_REC_END
			&& r->kind != RA_REC_ROLLBACK)
		return -1;
	if(r->ts < 0 || r->ts > RA_REC_TS_MAX || r->created_ms < 0)
		return -1;
	pos = snprintf(buf, len, RA_REC_MAGIC "|%c|%llu|%lld|%lld", (char)r->kind,
			r->seq, r->ts, r->created_ms);
	if(pos < 0 || (size_t)pos >= len)
		return -1;
	for(i = 0; i < RA_REC_NFIELDS; i++) {
		if((size_t)pos + 1 >= len)
			return -1;
		buf[pos++] = '|';
		pos = put_escaped(buf, len, pos, *text_field((ra_rec_t *)r, i));
		if(pos < 0)
			return -1;
	}
	buf[pos] = '\0';
	return pos;
}

static int hexval(char c)
{
	if(c >= '0' && c <= '9')
		return c - '0';
	if(c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if(c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* unescape [s, e) into out (NUL terminated); returns 0 or -1 */
static int unescape(const char *s, const char *e, char *out)
{
	int h, l;

	for(; s < e; s++) {
		if(*s == '%') {
			if(e - s < 3 || (h = hexval(s[1])) < 0 || (l = hexval(s[2])) < 0)
				return -1;
			if(h == 0 && l == 0)
				return -1; /* no NUL bytes inside a field */
			*out++ = (char)(h << 4 | l);
			s += 2;
		} else {
			if((unsigned char)*s < 0x20 || *s == 0x7f)
				return -1;
			*out++ = *s;
		}
	}
	*out = '\0';
	return 0;
}

/* the whole unsigned 64-bit range that ra_rec_encode() can write */
static int parse_num(const char *s, const char *e, unsigned long long *v)
{
	unsigned long long n = 0, d;

	if(s == e || e - s > 20)
		return -1;
	for(; s < e; s++) {
		if(!isdigit((unsigned char)*s))
			return -1;
		d = (unsigned long long)(*s - '0');
		if(n > (ULLONG_MAX - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	*v = n;
	return 0;
}

int ra_rec_decode(const char *s, size_t len, ra_rec_t *r)
{
	const char *start[RA_REC_TOTAL_FIELDS], *end[RA_REC_TOTAL_FIELDS];
	const char *p, *e;
	unsigned long long n[3];
	char *mem, *w;
	int nf = 0, i;

	if(s == NULL || r == NULL || len == 0 || len > RA_REC_MAX_LEN)
		return -1;
	memset(r, 0, sizeof(*r));
	e = s + len;
	start[0] = s;
	for(p = s; p < e; p++) {
		if(*p == '\0')
			return -1;
		if(*p == '|') {
			if(nf + 1 >= RA_REC_TOTAL_FIELDS)
				return -1;
			end[nf++] = p;
			start[nf] = p + 1;
		}
	}
	end[nf++] = e;
	if(nf != RA_REC_TOTAL_FIELDS)
		return -1;
	if(end[0] - start[0] != 3 || memcmp(start[0], RA_REC_MAGIC, 3) != 0)
		return -1;
	if(end[1] - start[1] != 1
			|| (*start[1] != RA_REC_BEGIN && *start[1] != RA_REC_END
					&& *start[1] != RA_REC_ROLLBACK))
		return -1;
	for(i = 0; i < 3; i++) {
		if(parse_num(start[2 + i], end[2 + i], &n[i]) < 0)
			return -1;
	}
	/* a ts beyond RA_REC_TS_MAX could never be sent: the sender would
	 * retry it forever instead of dropping it as corrupt */
	if(n[1] > (unsigned long long)RA_REC_TS_MAX
			|| n[2] > 0x7fffffffffffffffULL)
		return -1;
	if(end[5] == start[5])
		return -1; /* the tag is required */
	/* unescaped text is never longer than its encoding */
	mem = malloc(len + RA_REC_NFIELDS);
	if(mem == NULL)
		return -1;
	w = mem;
	for(i = 0; i < RA_REC_NFIELDS; i++) {
		if(unescape(start[5 + i], end[5 + i], w) < 0) {
			free(mem);
			memset(r, 0, sizeof(*r));
			return -1;
		}
		*text_field(r, i) = w;
		w += strlen(w) + 1;
	}
	r->kind = (ra_rec_kind_t)*start[1];
	r->seq = n[0];
	r->ts = (long long)n[1];
	r->created_ms = (long long)n[2];
	r->mem_ = mem;
	return 0;
}

void ra_rec_free(ra_rec_t *r)
{
	if(r == NULL)
		return;
	free(r->mem_);
	memset(r, 0, sizeof(*r));
}

ra_req_kind_t ra_rec_req_kind(const ra_rec_t *r)
{
	switch(r->kind) {
		case RA_REC_BEGIN:
			return RA_REQ_BEGIN;
		case RA_REC_END:
			return RA_REQ_END;
		default:
			return RA_REQ_ROLLBACK;
	}
}

void ra_rec_req_fields(const ra_rec_t *r, ra_req_fields_t *f)
{
	memset(f, 0, sizeof(*f));
	f->tenant = r->tenant;
	f->transaction_tag = r->tag;
	f->account_tag = r->account;
	f->destination_account_tag = r->dest_account;
	f->source = r->source;
	f->source_ip = r->source_ip;
	f->destination = r->destination;
	f->carrier_ip = r->carrier_ip;
}

const char *ra_rec_path(ra_rec_kind_t k)
{
	switch(k) {
		case RA_REC_BEGIN:
			return "/v1/begin_transaction";
		case RA_REC_END:
			return "/v1/end_transaction";
		case RA_REC_ROLLBACK:
			return "/v1/rollback_transaction";
	}
	return NULL;
}

const char *ra_rec_kind_name(ra_rec_kind_t k)
{
	switch(k) {
		case RA_REC_BEGIN:
			return "begin";
		case RA_REC_END:
			return "end";
		case RA_REC_ROLLBACK:
			return "rollback";
	}
	return "unknown";
}

long long ra_backoff_ms(
		int attempt, long long min_ms, long long max_ms, unsigned int jitter)
{
	long long d;

	if(min_ms < 1)
		min_ms = 1;
	if(max_ms < min_ms)
		max_ms = min_ms;
	if(attempt < 1)
		attempt = 1;
	d = min_ms;
	while(--attempt > 0 && d < max_ms)
		d *= 2;
	if(d > max_ms)
		d = max_ms;
	if(jitter > 1000)
		jitter = 1000;
	/* 75%..100% of the step: never above max_ms, never below 1 */
	d = d * (750 + (long long)jitter / 4) / 1000;
	return d < 1 ? 1 : d;
}
