/*
 * libFuzzer harness: the reason map configuration of the rating_agent
 * module (src/modules/rating_agent/ra_reason.c), i.e. the reason_map and
 * fail_reply modparam values.
 *
 * Every line of the input is given to ra_reason_map_set() ("NAME=CODE
 * Phrase") on one map, and to ra_reply_parse() ("CODE Phrase").
 * Invariants: an accepted reply has a 300..699 code and a phrase of 1..127
 * printable bytes without leading or trailing blanks; an accepted entry is
 * what a lookup of its name returns afterwards, with the code and phrase
 * ra_reply_parse() gives for its value; a refused line sets an error and
 * leaves the map as it was; the map keeps "default" as its first entry,
 * has unique names, and a lookup never fails (unknown, empty or NULL
 * reasons get the "default" reply).
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ra_reason.h"
#include "fuzz_util.h"

#define MAP_MAX 64 /* entries a map holds (RA_REASON_MAX in ra_reason.c) */

typedef struct snap
{
	int n;
	char name[MAP_MAX][RA_REASON_NAME_LEN];
	ra_reply_t reply[MAP_MAX];
} snap_t;

static void take(const ra_reason_map_t *m, snap_t *s)
{
	const ra_reply_t *r;
	const char *name;
	int i;

	s->n = ra_reason_map_size(m);
	FUZZ_CHECK(s->n >= 1 && s->n <= MAP_MAX, "map size %d", s->n);
	for(i = 0; i < s->n; i++) {
		name = ra_reason_map_entry(m, i, &r);
		FUZZ_CHECK(name != NULL && strlen(name) < RA_REASON_NAME_LEN,
				"entry %d name", i);
		strcpy(s->name[i], name);
		s->reply[i].code = r->code;
		strcpy(s->reply[i].phrase, r->phrase);
	}
}

static int same_entry(const snap_t *a, int i, const snap_t *b, int j)
{
	return strcmp(a->name[i], b->name[j]) == 0
		   && a->reply[i].code == b->reply[j].code
		   && strcmp(a->reply[i].phrase, b->reply[j].phrase) == 0;
}

/* the whole map: "default" first, unique names, each found by a lookup */
static void check_map(const ra_reason_map_t *m)
{
	const ra_reply_t *r;
	const char *name;
	int n = ra_reason_map_size(m), i, j;

	FUZZ_CHECK(ra_reason_map_entry(m, n, &r) == NULL
					   && ra_reason_map_entry(m, -1, &r) == NULL,
			"entry out of range");
	FUZZ_CHECK(strcmp(ra_reason_map_entry(m, 0, &r), RA_REASON_DEFAULT) == 0,
			"first entry is not the default one");
	for(i = 0; i < n; i++) {
		name = ra_reason_map_entry(m, i, &r);
		for(j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(ra_reason_map_entry(m, j, NULL), name) != 0,
					"'%s' twice", name);
		FUZZ_CHECK(ra_reason_map_lookup(m, name) == r, "lookup of '%s'", name);
	}
}

static void check_reply(const ra_reply_t *r)
{
	size_t n = strlen(r->phrase), i;

	FUZZ_CHECK(r->code >= 300 && r->code <= 699, "code %d", r->code);
	FUZZ_CHECK(n > 0 && n < RA_PHRASE_LEN && r->phrase[0] != ' '
					   && r->phrase[n - 1] != ' ',
			"phrase '%s'", r->phrase);
	for(i = 0; i < n; i++)
		FUZZ_CHECK((unsigned char)r->phrase[i] >= 0x20 && r->phrase[i] != 0x7f,
				"control byte in the phrase");
}

static ra_reason_map_t *g_map;
static snap_t g_before, g_after;

static void one_line(char *line)
{
	char err[128], name[RA_REASON_NAME_LEN + 1];
	const char *eq = strchr(line, '='), *dflt;
	const ra_reply_t *got;
	ra_reply_t r, direct;
	int ok, i, nlen;

	err[0] = '\0';
	if(ra_reply_parse(line, &r, err, sizeof(err)) == 0)
		check_reply(&r);
	else
		FUZZ_CHECK(err[0] != '\0', "ra_reply_parse: no error message");

	take(g_map, &g_before);
	err[0] = '\0';
	ok = ra_reason_map_set(g_map, line, err, sizeof(err)) == 0;
	take(g_map, &g_after);
	if(!ok) {
		FUZZ_CHECK(err[0] != '\0', "ra_reason_map_set: no error message");
		FUZZ_CHECK(g_before.n == g_after.n, "a refused line changed the map");
		for(i = 0; i < g_before.n; i++)
			FUZZ_CHECK(same_entry(&g_before, i, &g_after, i),
					"a refused line changed '%s'", g_before.name[i]);
		return;
	}
	FUZZ_CHECK(eq != NULL && eq > line && eq - line < RA_REASON_NAME_LEN,
			"accepted '%s'", line);
	nlen = (int)(eq - line);
	memcpy(name, line, (size_t)nlen);
	name[nlen] = '\0';
	for(i = 0; i < nlen; i++)
		FUZZ_CHECK((name[i] >= '0' && name[i] <= '9')
						   || (name[i] >= 'A' && name[i] <= 'Z')
						   || (name[i] >= 'a' && name[i] <= 'z')
						   || name[i] == '_',
				"name '%s'", name);
	FUZZ_CHECK(ra_reply_parse(eq + 1, &direct, err, sizeof(err)) == 0,
			"value of an accepted line");
	got = ra_reason_map_lookup(g_map, name);
	FUZZ_CHECK(got->code == direct.code
					   && strcmp(got->phrase, direct.phrase) == 0,
			"lookup of '%s' gave %d %s", name, got->code, got->phrase);
	check_reply(got);
	FUZZ_CHECK(g_after.n == g_before.n || g_after.n == g_before.n + 1,
			"size %d -> %d", g_before.n, g_after.n);
	/* every other entry is unchanged */
	for(i = 0; i < g_before.n; i++)
		if(strcmp(g_before.name[i], name) != 0)
			FUZZ_CHECK(same_entry(&g_before, i, &g_after, i),
					"entry '%s' changed", g_before.name[i]);
	/* unknown reasons and no reason get the default reply */
	dflt = RA_REASON_DEFAULT;
	got = ra_reason_map_lookup(g_map, dflt);
	FUZZ_CHECK(ra_reason_map_lookup(g_map, NULL) == got
					   && ra_reason_map_lookup(g_map, "") == got,
			"lookup of no reason");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_span_t in = {(const char *)data, size}, l;
	const ra_reply_t *d;
	char *line;

	g_map = ra_reason_map_new();
	FUZZ_CHECK(g_map != NULL, "ra_reason_map_new");
	while(fuzz_line(&in, &l)) {
		line = fuzz_strdup(l);
		one_line(line);
		/* the line itself as a reason: its entry, or the default one */
		d = ra_reason_map_lookup(g_map, line);
		FUZZ_CHECK(d != NULL, "lookup of a line");
		check_reply(d);
		free(line);
	}
	check_map(g_map);
	ra_reason_map_free(g_map);
	return 0;
}
