/*
 * rating_agent module - unauthorized_reason -> SIP reply map
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

#include "ra_reason.h"

#define RA_REASON_MAX 64

typedef struct ra_reason_entry {
	char name[RA_REASON_NAME_LEN];
	ra_reply_t reply;
} ra_reason_entry_t;

struct ra_reason_map {
	int n;
	ra_reason_entry_t e[RA_REASON_MAX];
};

/* The defaults favour replies that make a carrier stop (4xx) over ones that
 * make it try elsewhere, except for the concurrency limits where the
 * caller's own state (busy) is the cause. */
static const struct {
	const char *name;
	int code;
	const char *phrase;
} ra_defaults[] = {
		{RA_REASON_DEFAULT, 403, "Forbidden"},
		{"NOT_FOUND", 404, "Not Found"},
		{"NOT_ACTIVE", 403, "Account not active"},
		{"UNREACHEABLE_DESTINATION", 404, "Destination unreachable"},
		{"TOO_MANY_RUNNING_TRANSACTIONS", 486, "Too many calls"},
		{"TOO_MANY_RUNNING_TRANSACTIONS_INBOUND", 486, "Too many calls"},
		{"TOO_MANY_RUNNING_TRANSACTIONS_OUTBOUND", 486, "Too many calls"},
		{"BALANCE_INSUFFICIENT", 402, "Insufficient balance"},
		{RA_REASON_NO_UNITS, 402, "No available units"},
};

static void set_err(char *err, size_t errlen, const char *msg)
{
	if(err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", msg);
}

static ra_reason_entry_t *find(const ra_reason_map_t *m, const char *name)
{
	int i;

	for(i = 0; i < m->n; i++) {
		if(strcmp(m->e[i].name, name) == 0)
			return (ra_reason_entry_t *)&m->e[i];
	}
	return NULL;
}

static int put(ra_reason_map_t *m, const char *name, const ra_reply_t *r)
{
	ra_reason_entry_t *e;

	e = find(m, name);
	if(e == NULL) {
		if(m->n >= RA_REASON_MAX || strlen(name) >= RA_REASON_NAME_LEN)
			return -1;
		e = &m->e[m->n++];
		snprintf(e->name, sizeof(e->name), "%s", name);
	}
	e->reply = *r;
	return 0;
}

ra_reason_map_t *ra_reason_map_new(void)
{
	ra_reason_map_t *m;
	ra_reply_t r;
	size_t i;

	m = calloc(1, sizeof(*m));
	if(m == NULL)
		return NULL;
	for(i = 0; i < sizeof(ra_defaults) / sizeof(ra_defaults[0]); i++) {
		r.code = ra_defaults[i].code;
		snprintf(r.phrase, sizeof(r.phrase), "%s", ra_defaults[i].phrase);
		put(m, ra_defaults[i].name, &r);
	}
	return m;
}

void ra_reason_map_free(ra_reason_map_t *m)
{
	free(m);
}

int ra_reply_parse(const char *s, ra_reply_t *out, char *err, size_t errlen)
{
	const char *p;
	int code = 0, digits = 0;
	size_t plen;

	if(s == NULL || out == NULL) {
		set_err(err, errlen, "no value");
		return -1;
	}
	for(p = s; isdigit((unsigned char)*p) && digits < 4; p++, digits++)
		code = code * 10 + (*p - '0');
	if(digits != 3 || code < 300 || code > 699) {
		set_err(err, errlen, "code must be 300..699");
		return -1;
	}
	if(*p != ' ') {
		set_err(err, errlen, "expected 'CODE Phrase'");
		return -1;
	}
	while(*p == ' ')
		p++;
	plen = strlen(p);
	while(plen > 0 && p[plen - 1] == ' ')
		plen--;
	if(plen == 0 || plen >= RA_PHRASE_LEN) {
		set_err(err, errlen, "phrase empty or too long");
		return -1;
	}
	for(size_t i = 0; i < plen; i++) {
		if((unsigned char)p[i] < 0x20 || p[i] == 0x7f) {
			set_err(err, errlen, "phrase has control characters");
			return -1;
		}
	}
	out->code = code;
	memcpy(out->phrase, p, plen);
	out->phrase[plen] = '\0';
	return 0;
}

int ra_reason_map_set(
		ra_reason_map_t *m, const char *spec, char *err, size_t errlen)
{
	const char *eq, *p;
	char name[RA_REASON_NAME_LEN];
	ra_reply_t r;
	size_t nlen;

	if(m == NULL || spec == NULL) {
		set_err(err, errlen, "no value");
		return -1;
	}
	eq = strchr(spec, '=');
	if(eq == NULL) {
		set_err(err, errlen, "expected NAME=CODE Phrase");
		return -1;
	}
	nlen = (size_t)(eq - spec);
	if(nlen == 0 || nlen >= sizeof(name)) {
		set_err(err, errlen, "reason name empty or too long");
		return -1;
	}
	for(p = spec; p < eq; p++) {
		if(!isalnum((unsigned char)*p) && *p != '_') {
			set_err(err, errlen, "reason name must be [A-Za-z0-9_]");
			return -1;
		}
	}
	memcpy(name, spec, nlen);
	name[nlen] = '\0';
	if(ra_reply_parse(eq + 1, &r, err, errlen) < 0)
		return -1;
	if(put(m, name, &r) < 0) {
		set_err(err, errlen, "too many reason entries");
		return -1;
	}
	return 0;
}

const ra_reply_t *ra_reason_map_lookup(
		const ra_reason_map_t *m, const char *reason)
{
	const ra_reason_entry_t *e = NULL;

	if(reason != NULL && reason[0] != '\0')
		e = find(m, reason);
	if(e == NULL)
		e = find(m, RA_REASON_DEFAULT);
	/* "default" is put first by ra_reason_map_new() and never removed */
	return e ? &e->reply : &m->e[0].reply;
}

int ra_reason_map_size(const ra_reason_map_t *m)
{
	return m ? m->n : 0;
}

const char *ra_reason_map_entry(
		const ra_reason_map_t *m, int i, const ra_reply_t **reply)
{
	if(m == NULL || i < 0 || i >= m->n)
		return NULL;
	if(reply)
		*reply = &m->e[i].reply;
	return m->e[i].name;
}
