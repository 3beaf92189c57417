/*
 * rating_agent module - outbox records (begin/end/rollback) on the wire
 *
 * Pure C, no Kamailio headers. A record is immutable once written: the
 * sender rebuilds the very same request body from it on every retry, so a
 * retry repeats the same tag and timestamps (idempotent on the agent).
 *
 * Encoding (one line, ASCII, fields separated by '|'):
 *   RA1|<kind B/E/R>|<seq>|<ts>|<created_ms>|<tag>|<tenant>|<account>|
 *       <dest_account>|<source>|<source_ip>|<destination>|<carrier_ip>
 * seq, ts (event time, Unix seconds, at most RA_REC_TS_MAX) and created_ms
 * (enqueue time, Unix milliseconds) are decimal; text fields are
 * percent-encoded: '%', '|' and bytes < 0x20 or 0x7f become %XX. The
 * prefix up to created_ms is fixed so that a Redis Lua script can read
 * created_ms with a pattern.
 *
 * This file is part of Kamailio, a free SIP server.
 *
 * Kamailio is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version
 */

#ifndef _RA_OUTBOX_REC_H_
#define _RA_OUTBOX_REC_H_

#include <stddef.h>
#include "ra_json.h"

#define RA_REC_MAX_LEN 8192
/* 9999-12-31T23:59:59Z: the last ts a request body can carry */
#define RA_REC_TS_MAX 253402300799LL

typedef enum ra_rec_kind {
	RA_REC_BEGIN = 'B',
	RA_REC_END = 'E',
	RA_REC_ROLLBACK = 'R'
} ra_rec_kind_t;

#define RA_REC_NFIELDS 8

typedef struct ra_rec {
	ra_rec_kind_t kind;
	unsigned long long seq;
	long long ts;		  /* event time, Unix seconds */
	long long created_ms; /* when it entered the outbox */
	/* text fields, in encoding order; NULL is encoded as "" */
	const char *tag; /* required */
	const char *tenant;
	const char *account;
	const char *dest_account;
	const char *source;
	const char *source_ip;
	const char *destination;
	const char *carrier_ip;
	char *mem_; /* owned storage of a decoded record */
} ra_rec_t;

/* Encode into buf; returns the length (without the NUL) or -1 (no tag,
 * bad kind or buf too small). */
int ra_rec_encode(const ra_rec_t *r, char *buf, size_t len);

/* Decode; on success the text fields point into memory owned by r (free
 * it with ra_rec_free). Returns 0 or -1 (malformed). */
int ra_rec_decode(const char *s, size_t len, ra_rec_t *r);
void ra_rec_free(ra_rec_t *r);

/* request kind and body fields of a record */
ra_req_kind_t ra_rec_req_kind(const ra_rec_t *r);
void ra_rec_req_fields(const ra_rec_t *r, ra_req_fields_t *f);

/* API path of a record kind, e.g. "/v1/begin_transaction" */
const char *ra_rec_path(ra_rec_kind_t k);
const char *ra_rec_kind_name(ra_rec_kind_t k);

/* Retry delay after 'attempt' failures (1 = first failure): min_ms doubled
 * per attempt, capped at max_ms; jitter (0..1000, per mille of the delay)
 * spreads retries of many calls. */
long long ra_backoff_ms(int attempt, long long min_ms, long long max_ms,
		unsigned int jitter);

#endif
