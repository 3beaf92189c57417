/*
 * rating_agent module - unauthorized_reason -> SIP reply map
 *
 * Pure C, no Kamailio headers. The map is built once in the main process
 * (modparams) and only read afterwards, so it needs no locking.
 *
 * This file is part of Kamailio, a free SIP server.
 *
 * Kamailio is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version
 */

#ifndef _RA_REASON_H_
#define _RA_REASON_H_

#include <stddef.h>

#define RA_PHRASE_LEN 128
#define RA_REASON_NAME_LEN 64

/* key used for a null, empty or unknown unauthorized_reason */
#define RA_REASON_DEFAULT "default"
/* key used when the agent says authorized but with no units left */
#define RA_REASON_NO_UNITS "NO_AVAILABLE_UNITS"

typedef struct ra_reply {
	int code;
	char phrase[RA_PHRASE_LEN];
} ra_reply_t;

typedef struct ra_reason_map ra_reason_map_t;

/* a map holding the documented defaults; NULL when out of memory */
ra_reason_map_t *ra_reason_map_new(void);
void ra_reason_map_free(ra_reason_map_t *m);

/* Override or add one entry: "NAME=CODE Phrase", e.g.
 * "BALANCE_INSUFFICIENT=403 Insufficient balance". NAME is [A-Za-z0-9_]+
 * (or "default"), CODE 300..699, Phrase printable, no CR/LF. Returns 0 or
 * -1 with a reason in err. */
int ra_reason_map_set(
		ra_reason_map_t *m, const char *spec, char *err, size_t errlen);

/* Reply for a reason: NULL/"" and unknown names give the "default" entry.
 * Never fails. */
const ra_reply_t *ra_reason_map_lookup(
		const ra_reason_map_t *m, const char *reason);

/* Parse "CODE Phrase" (e.g. the fail_reply modparam). 0 or -1. */
int ra_reply_parse(const char *s, ra_reply_t *out, char *err, size_t errlen);

/* number of entries and the i-th one (for the docs/RPC) */
int ra_reason_map_size(const ra_reason_map_t *m);
const char *ra_reason_map_entry(
		const ra_reason_map_t *m, int i, const ra_reply_t **reply);

#endif
