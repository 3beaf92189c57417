/*
 * rating_agent module - from an HTTP exchange to a call decision
 *
 * Pure C, no Kamailio headers: the whole authorization policy (status code
 * first, body second, units <= 0 is a denial, fail policy, reason map)
 * lives here so that it can be unit tested.
 *
 * This file is part of Kamailio, a free SIP server.
 *
 * Kamailio is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version
 */

#ifndef _RA_DECIDE_H_
#define _RA_DECIDE_H_

#include "ra_json.h"
#include "ra_reason.h"

typedef enum ra_outcome_kind {
	RA_OUT_AUTHORIZED = 0, /* go on, with max_units */
	RA_OUT_DENIED,		   /* business denial: reply code/phrase */
	RA_OUT_FAIL_OPEN,	   /* agent unusable, policy open: go on */
	RA_OUT_FAIL_CLOSED,	   /* agent unusable, policy closed: reply */
	RA_OUT_KINDS
} ra_outcome_kind_t;

typedef enum ra_fail_policy {
	RA_FAIL_CLOSED = 0,
	RA_FAIL_OPEN
} ra_fail_policy_t;

typedef struct ra_outcome {
	ra_outcome_kind_t kind;
	int proceed; /* 1: the call may go on (authorized or fail open) */
	int code;	 /* SIP reply code when !proceed, else 0 */
	char phrase[RA_PHRASE_LEN];
	char reason[RA_REASON_LEN]; /* agent's reason, "" when null */
	char error[RA_ERR_LEN];		/* why the agent was unusable, "" if not */
	long http_status;			/* 0 when no HTTP answer */
	int have_resp;				/* resp is a parsed 200 body */
	ra_auth_resp_t resp;
} ra_outcome_t;

/* the agent's answer: status 0 when the exchange failed (err says why,
 * e.g. "timeout" or "connect"), else the HTTP status and body */
void ra_decide(long status, const char *body, size_t len, const char *err,
		const ra_reason_map_t *map, ra_fail_policy_t policy,
		const ra_reply_t *fail_reply, ra_outcome_t *out);

/* the job never reached the agent (queue full, no memory, ...) */
void ra_decide_error(const char *err, ra_fail_policy_t policy,
		const ra_reply_t *fail_reply, ra_outcome_t *out);

const char *ra_outcome_name(ra_outcome_kind_t k);

#endif
