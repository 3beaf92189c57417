/*
 * rating_agent module - from an HTTP exchange to a call decision
 *
 * This file is part of Kamailio, a free SIP server.
 *
 * Kamailio is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version
 */

#include <stdio.h>
#include <string.h>

#include "ra_decide.h"

static const char *outcome_names[RA_OUT_KINDS] = {
		"authorized", "denied", "failopen", "failclosed"};

const char *ra_outcome_name(ra_outcome_kind_t k)
{
	if(k < 0 || k >= RA_OUT_KINDS)
		return "unknown";
	return outcome_names[k];
}

static void set_reply(ra_outcome_t *out, const ra_reply_t *r)
{
	out->code = r->code;
	snprintf(out->phrase, sizeof(out->phrase), "%s", r->phrase);
}

void ra_decide_error(const char *err, ra_fail_policy_t policy,
		const ra_reply_t *fail_reply, ra_outcome_t *out)
{
	/* keep what ra_decide() already filled in (status, parsed body) */
	snprintf(out->error, sizeof(out->error), "%s",
			(err && err[0]) ? err : "error");
	if(policy == RA_FAIL_OPEN) {
		out->kind = RA_OUT_FAIL_OPEN;
		out->proceed = 1;
		out->code = 0;
		out->phrase[0] = '\0';
	} else {
		out->kind = RA_OUT_FAIL_CLOSED;
		out->proceed = 0;
		set_reply(out, fail_reply);
	}
}

static void deny(ra_outcome_t *out, const ra_reason_map_t *map,
		const char *key)
{
	out->kind = RA_OUT_DENIED;
	out->proceed = 0;
	set_reply(out, ra_reason_map_lookup(map, key));
}

void ra_decide(long status, const char *body, size_t len, const char *err,
		const ra_reason_map_t *map, ra_fail_policy_t policy,
		const ra_reply_t *fail_reply, ra_outcome_t *out)
{
	char perr[RA_ERR_LEN - 16];
	char buf[RA_ERR_LEN];

	memset(out, 0, sizeof(*out));
	out->http_status = status;
	/* status code first: a 500 body is plain text, not JSON */
	if(status == 0) {
		ra_decide_error(err ? err : "no answer", policy, fail_reply, out);
		return;
	}
	if(status != 200) {
		snprintf(buf, sizeof(buf), "http %ld", status);
		ra_decide_error(buf, policy, fail_reply, out);
		return;
	}
	if(ra_json_parse_auth(body, len, &out->resp, perr, sizeof(perr)) < 0) {
		snprintf(buf, sizeof(buf), "bad body: %s", perr);
		ra_decide_error(buf, policy, fail_reply, out);
		return;
	}
	out->have_resp = 1;
	snprintf(out->reason, sizeof(out->reason), "%s", out->resp.reason);
	if(!out->resp.authorized) {
		deny(out, map, out->resp.reason_null ? NULL : out->resp.reason);
		return;
	}
	if(out->resp.max_units <= 0) {
		if(out->reason[0] == '\0')
			snprintf(out->reason, sizeof(out->reason), "%s",
					RA_REASON_NO_UNITS);
		deny(out, map, RA_REASON_NO_UNITS);
		return;
	}
	out->kind = RA_OUT_AUTHORIZED;
	out->proceed = 1;
}
