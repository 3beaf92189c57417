/*
 * libFuzzer harness: the rating agent's JSON bodies
 * (src/modules/rating_agent/ra_json.c) and the call decision made from an
 * authorization answer (ra_decide.c).
 *
 * The first byte of the input selects what the rest is:
 *   'a'  an authorization 200 body: ra_json_parse_auth() and ra_decide()
 *   'k'  a begin/end/rollback 200 body: ra_json_parse_ack()
 *   'c'  one carrier string: ra_json_parse_carrier()
 *   'r'  request fields, one per line: the kind digit followed by the
 *        timestamp, then tenant, transaction_tag, account_tag,
 *        destination_account_tag, source, source_ip, destination,
 *        carrier_ip: ra_json_build_request()
 * Invariants: a parsed authorization agrees with json-c's own reading of
 * the same body (authorized, authorized_destination, reason, account,
 * units, balance, number of carriers);
 * every carrier kept is valid, prints back (ra_carrier_str) to a string
 * that parses to the same carrier, and gives a SIP URI; a decision either
 * lets the call go on with no reply code, or carries a 300..699 reply with
 * a phrase, and "authorized" needs authorized:true and units > 0; a built
 * request parses back to exactly the fields given; every error sets a
 * message.
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 */

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "ra_json.h"
#include "ra_decide.h"
#include "ra_reason.h"
#include "fuzz_util.h"

static ra_reason_map_t *g_map;
static const ra_reply_t g_fail = {500, "Rating unavailable"};

static void check_carrier(const ra_carrier_t *c)
{
	ra_carrier_t back;
	char buf[RA_HOST_LEN + 64];
	int n;

	FUZZ_CHECK(c->host[0] != '\0' && strlen(c->host) < RA_HOST_LEN,
			"carrier host");
	FUZZ_CHECK(c->port >= 1, "carrier port %u", c->port);
	FUZZ_CHECK(c->transport == RA_TRANSPORT_UDP
					   || c->transport == RA_TRANSPORT_TCP,
			"carrier transport");
	n = ra_carrier_str(c, buf, sizeof(buf));
	FUZZ_CHECK(n > 0 && (size_t)n == strlen(buf), "ra_carrier_str");
	memset(&back, 0, sizeof(back));
	FUZZ_CHECK(ra_json_parse_carrier(buf, &back) == 0,
			"'%s' does not parse back", buf);
	FUZZ_CHECK(back.transport == c->transport && back.port == c->port
					   && strcmp(back.host, c->host) == 0,
			"'%s' parses to another carrier", buf);
	n = ra_carrier_uri(c, buf, sizeof(buf));
	FUZZ_CHECK(n > 0 && strncmp(buf, "sip:", 4) == 0, "ra_carrier_uri");
}

/* json-c's reading of a string member, cut like the parser cuts it */
static int member_str(json_object *o, const char *key, char *buf, size_t len)
{
	json_object *v;

	buf[0] = '\0';
	if(!json_object_object_get_ex(o, key, &v) || v == NULL)
		return 0;
	snprintf(buf, len, "%s", json_object_get_string(v));
	return 1;
}

static void check_auth_fields(
		const char *body, size_t len, const ra_auth_resp_t *r)
{
	json_tokener *tok = json_tokener_new();
	json_object *o, *v;
	char s[RA_ACCOUNT_LEN];
	double d;
	int i;

	FUZZ_CHECK(tok != NULL, "json_tokener_new");
	o = json_tokener_parse_ex(tok, body, (int)len);
	FUZZ_CHECK(o != NULL && json_object_is_type(o, json_type_object),
			"accepted body is no JSON object for json-c");
	FUZZ_CHECK(json_object_object_get_ex(o, "authorized", &v)
					   && json_object_is_type(v, json_type_boolean)
					   && json_object_get_boolean(v) == r->authorized,
			"authorized");
	if(json_object_object_get_ex(o, "authorized_destination", &v))
		FUZZ_CHECK(r->authorized_destination == json_object_get_boolean(v),
				"authorized_destination %d", r->authorized_destination);
	else
		FUZZ_CHECK(r->authorized_destination == -1,
				"authorized_destination %d", r->authorized_destination);
	if(json_object_object_get_ex(o, "balance", &v) && v != NULL) {
		d = json_object_get_double(v);
		FUZZ_CHECK(r->has_balance && isfinite(d) && r->balance == d, "balance");
	} else {
		FUZZ_CHECK(!r->has_balance, "balance absent");
	}
	FUZZ_CHECK(member_str(o, "unauthorized_reason", s, RA_REASON_LEN)
							   == !r->reason_null
					   && strcmp(s, r->reason) == 0,
			"reason '%s' != '%s'", r->reason, s);
	member_str(o, "unauthorized_account_tag", s, RA_ACCOUNT_LEN);
	FUZZ_CHECK(strcmp(s, r->unauthorized_account) == 0, "account");
	if(json_object_object_get_ex(o, "max_available_units", &v))
		FUZZ_CHECK(json_object_get_int64(v) == r->max_units, "units");
	else
		FUZZ_CHECK(!r->authorized && r->max_units == 0, "units absent");
	if(json_object_object_get_ex(o, "carriers", &v))
		FUZZ_CHECK((size_t)(r->ncarriers + r->carriers_skipped)
						   == json_object_array_length(v),
				"%d + %d carriers of %zu", r->ncarriers, r->carriers_skipped,
				json_object_array_length(v));
	else
		FUZZ_CHECK(!r->authorized && r->ncarriers == 0, "carriers absent");
	FUZZ_CHECK(r->ncarriers >= 0 && r->ncarriers <= RA_MAX_CARRIERS,
			"ncarriers %d", r->ncarriers);
	for(i = 0; i < r->ncarriers; i++)
		check_carrier(&r->carriers[i]);
	json_object_put(o);
	json_tokener_free(tok);
}

static void check_decision(const ra_outcome_t *o, int parsed,
		const ra_auth_resp_t *r, ra_fail_policy_t policy)
{
	FUZZ_CHECK(o->have_resp == parsed, "have_resp %d, parsed %d",
			o->have_resp, parsed);
	FUZZ_CHECK(o->proceed
					   == (o->kind == RA_OUT_AUTHORIZED
							   || o->kind == RA_OUT_FAIL_OPEN),
			"proceed %d with kind %d", o->proceed, o->kind);
	if(o->proceed)
		FUZZ_CHECK(o->code == 0, "code %d on a call that goes on", o->code);
	else
		FUZZ_CHECK(o->code >= 300 && o->code <= 699 && o->phrase[0] != '\0',
				"reply %d '%s'", o->code, o->phrase);
	if(o->kind == RA_OUT_AUTHORIZED)
		FUZZ_CHECK(parsed && r->authorized && r->max_units > 0,
				"authorized without authorized:true and units");
	if(parsed) {
		FUZZ_CHECK(o->kind == RA_OUT_AUTHORIZED || o->kind == RA_OUT_DENIED,
				"parsed body gave kind %d", o->kind);
		FUZZ_CHECK(o->resp.authorized == r->authorized
						   && o->resp.max_units == r->max_units,
				"resp copy");
	} else {
		FUZZ_CHECK(o->kind == (policy == RA_FAIL_OPEN ? RA_OUT_FAIL_OPEN
													  : RA_OUT_FAIL_CLOSED),
				"bad body gave kind %d", o->kind);
		FUZZ_CHECK(strncmp(o->error, "bad body: ", 10) == 0
						   && o->error[10] != '\0',
				"error '%s'", o->error);
	}
	FUZZ_CHECK(memchr(o->phrase, '\0', sizeof(o->phrase))
					   && memchr(o->reason, '\0', sizeof(o->reason))
					   && memchr(o->error, '\0', sizeof(o->error)),
			"unterminated string in the outcome");
}

static void fuzz_auth(const char *body, size_t len)
{
	static ra_auth_resp_t r;
	static ra_outcome_t o;
	char err[RA_ERR_LEN];
	int parsed;

	err[0] = '\0';
	parsed = ra_json_parse_auth(body, len, &r, err, sizeof(err)) == 0;
	if(parsed)
		check_auth_fields(body, len, &r);
	else
		FUZZ_CHECK(err[0] != '\0', "no error message");
	ra_decide(200, body, len, NULL, g_map, RA_FAIL_CLOSED, &g_fail, &o);
	check_decision(&o, parsed, &r, RA_FAIL_CLOSED);
	ra_decide(200, body, len, NULL, g_map, RA_FAIL_OPEN, &g_fail, &o);
	check_decision(&o, parsed, &r, RA_FAIL_OPEN);
}

static void fuzz_ack(const char *body, size_t len)
{
	char err[RA_ERR_LEN];
	int ok = -1;

	err[0] = '\0';
	if(ra_json_parse_ack(body, len, &ok, err, sizeof(err)) == 0)
		FUZZ_CHECK(ok == 0 || ok == 1, "ok %d", ok);
	else
		FUZZ_CHECK(err[0] != '\0' && ok == -1, "ack error");
}

static void fuzz_carrier(fuzz_span_t in)
{
	char *s = fuzz_strdup(in);
	ra_carrier_t c;

	memset(&c, 0, sizeof(c));
	if(ra_json_parse_carrier(s, &c) == 0)
		check_carrier(&c);
	free(s);
}

static const char *req_keys[] = {"tenant", "transaction_tag", "account_tag",
		"destination_account_tag", "source", "source_ip", "destination",
		"carrier_ip"};
static const char *ts_keys[] = {
		"timestamp_auth", "timestamp_begin", "timestamp_end", "timestamp_end"};

static void fuzz_request(fuzz_span_t in)
{
	char *val[8], *body, ts[32];
	const char *want;
	ra_req_fields_t f;
	json_object *o, *v;
	fuzz_span_t first = fuzz_field(&in, '\n');
	int kind, i, nkeys = 3; /* tenant, transaction_tag, tags */
	long long t;

	kind = 0;
	if(first.len > 0) {
		kind = first.s[0] - '0';
		first.s++;
		first.len--;
	}
	t = fuzz_ll(first);
	for(i = 0; i < 8; i++)
		val[i] = fuzz_strdup(fuzz_field(&in, '\n'));
	f.tenant = val[0];
	f.transaction_tag = val[1];
	f.account_tag = val[2];
	f.destination_account_tag = val[3];
	f.source = val[4];
	f.source_ip = val[5];
	f.destination = val[6];
	f.carrier_ip = val[7];
	body = ra_json_build_request((ra_req_kind_t)kind, &f, (time_t)t);
	if(kind < RA_REQ_AUTHORIZATION || kind > RA_REQ_ROLLBACK
			|| val[1][0] == '\0'
			|| ra_json_timestamp((time_t)t, ts, sizeof(ts)) < 0) {
		FUZZ_CHECK(body == NULL, "a request with kind %d, ts %lld", kind, t);
		goto done;
	}
	FUZZ_CHECK(body != NULL, "no request built");
	o = json_tokener_parse(body);
	FUZZ_CHECK(o != NULL && json_object_is_type(o, json_type_object),
			"request is not a JSON object: %s", body);
	for(i = 0; i < 8; i++) {
		want = (i == 0 && val[0][0] == '\0') ? "default" : val[i];
		if(want[0] == '\0') {
			FUZZ_CHECK(!json_object_object_get_ex(o, req_keys[i], &v),
					"empty %s sent", req_keys[i]);
			continue;
		}
		if(i >= 2)
			nkeys++;
		FUZZ_CHECK(json_object_object_get_ex(o, req_keys[i], &v)
						   && json_object_is_type(v, json_type_string)
						   && strcmp(json_object_get_string(v), want) == 0,
				"%s in %s", req_keys[i], body);
	}
	FUZZ_CHECK(json_object_object_get_ex(o, ts_keys[kind], &v)
					   && strcmp(json_object_get_string(v), ts) == 0,
			"%s in %s", ts_keys[kind], body);
	FUZZ_CHECK(json_object_object_get_ex(o, "tags", &v)
					   && json_object_is_type(v, json_type_array)
					   && json_object_array_length(v) == 0,
			"tags in %s", body);
	FUZZ_CHECK(json_object_object_length(o) == nkeys + 1, "extra keys in %s",
			body);
	json_object_put(o);
done:
	free(body);
	for(i = 0; i < 8; i++)
		free(val[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_span_t in = {(const char *)data + 1, size ? size - 1 : 0};

	if(g_map == NULL) {
		g_map = ra_reason_map_new();
		FUZZ_CHECK(g_map != NULL, "ra_reason_map_new");
	}
	if(size == 0)
		return 0;
	switch(data[0]) {
		case 'a':
			fuzz_auth(in.s, in.len);
			break;
		case 'k':
			fuzz_ack(in.s, in.len);
			break;
		case 'c':
			fuzz_carrier(in);
			break;
		case 'r':
			fuzz_request(in);
			break;
	}
	return 0;
}
