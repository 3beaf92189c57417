/*
 * rating_agent module - JSON bodies of the rating agent REST contract
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
#include <strings.h>
#include <ctype.h>
#include <stdarg.h>
#include <math.h>

#include <json-c/json.h>

#include "ra_json.h"

static const char *ts_field[] = {
		"timestamp_auth", "timestamp_begin", "timestamp_end", "timestamp_end"};

int ra_json_timestamp(time_t ts, char *buf, size_t len)
{
	struct tm tmv;

	if(buf == NULL || len < 21 || gmtime_r(&ts, &tmv) == NULL)
		return -1;
	if(strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tmv) != 20)
		return -1;
	return 0;
}

static int add_str(json_object *o, const char *key, const char *val)
{
	json_object *v;

	v = json_object_new_string(val);
	if(v == NULL)
		return -1;
	json_object_object_add(o, key, v);
	return 0;
}

static int add_opt(json_object *o, const char *key, const char *val)
{
	if(val == NULL || val[0] == '\0')
		return 0;
	return add_str(o, key, val);
}

char *ra_json_build_request(
		ra_req_kind_t kind, const ra_req_fields_t *f, time_t ts)
{
	json_object *o;
	json_object *tags;
	char tsbuf[32];
	const char *s;
	char *out = NULL;

	if(f == NULL || f->transaction_tag == NULL || f->transaction_tag[0] == '\0'
			|| kind < RA_REQ_AUTHORIZATION || kind > RA_REQ_ROLLBACK)
		return NULL;
	if(ra_json_timestamp(ts, tsbuf, sizeof(tsbuf)) < 0)
		return NULL;
	o = json_object_new_object();
	if(o == NULL)
		return NULL;
	if(add_str(o, "tenant",
			   (f->tenant && f->tenant[0]) ? f->tenant : "default")
					< 0
			|| add_str(o, "transaction_tag", f->transaction_tag) < 0
			|| add_opt(o, "account_tag", f->account_tag) < 0
			|| add_opt(o, "destination_account_tag", f->destination_account_tag)
					   < 0
			|| add_opt(o, "source", f->source) < 0
			|| add_opt(o, "source_ip", f->source_ip) < 0
			|| add_opt(o, "destination", f->destination) < 0
			|| add_opt(o, "carrier_ip", f->carrier_ip) < 0
			|| add_str(o, ts_field[kind], tsbuf) < 0)
		goto done;
	/* the engine crashed on a null list: always an (empty) array */
	tags = json_object_new_array();
	if(tags == NULL)
		goto done;
	json_object_object_add(o, "tags", tags);
	s = json_object_to_json_string_ext(
			o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if(s != NULL)
		out = strdup(s);
done:
	json_object_put(o);
	return out;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if(err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* parse a whole buffer as one JSON object; trailing bytes other than
 * white space make it garbage */
static json_object *parse_object(
		const char *body, size_t len, char *err, size_t errlen)
{
	json_tokener *tok;
	json_object *o;
	size_t end;

	if(body == NULL || len == 0) {
		set_err(err, errlen, "empty body");
		return NULL;
	}
	if(len > (size_t)0x7fffffff) {
		set_err(err, errlen, "body too large");
		return NULL;
	}
	tok = json_tokener_new();
	if(tok == NULL) {
		set_err(err, errlen, "no memory");
		return NULL;
	}
	o = json_tokener_parse_ex(tok, body, (int)len);
	if(o == NULL || json_tokener_get_error(tok) != json_tokener_success) {
		set_err(err, errlen, "not JSON");
		if(o != NULL)
			json_object_put(o);
		json_tokener_free(tok);
		return NULL;
	}
#if defined(JSON_C_VERSION_NUM) && JSON_C_VERSION_NUM >= ((0 << 16) | (15 << 8))
	end = json_tokener_get_parse_end(tok);
#else
	end = (size_t)tok->char_offset;
#endif
	json_tokener_free(tok);
	for(; end < len; end++) {
		if(!isspace((unsigned char)body[end])) {
			set_err(err, errlen, "trailing data after JSON");
			json_object_put(o);
			return NULL;
		}
	}
	if(!json_object_is_type(o, json_type_object)) {
		set_err(err, errlen, "not a JSON object");
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* 1: present with type t, 0: absent, -1: present with another type */
static int get_typed(
		json_object *o, const char *key, json_type t, json_object **v)
{
	if(!json_object_object_get_ex(o, key, v))
		return 0;
	return json_object_is_type(*v, t) ? 1 : -1;
}

/* 1: string, 0: null or absent, -1: other type */
static int get_nullable_str(
		json_object *o, const char *key, char *buf, size_t len)
{
	json_object *v;

	buf[0] = '\0';
	if(!json_object_object_get_ex(o, key, &v) || v == NULL)
		return 0;
	if(!json_object_is_type(v, json_type_string))
		return -1;
	snprintf(buf, len, "%s", json_object_get_string(v));
	return 1;
}

int ra_json_parse_carrier(const char *s, ra_carrier_t *out)
{
	const char *host, *colon, *hend, *p;
	size_t hlen;
	long port;

	if(s == NULL || out == NULL)
		return -1;
	if(strncasecmp(s, "UDP:", 4) == 0)
		out->transport = RA_TRANSPORT_UDP;
	else if(strncasecmp(s, "TCP:", 4) == 0)
		out->transport = RA_TRANSPORT_TCP;
	else
		return -1;
	host = s + 4;
	if(*host == '[') {
		hend = strchr(host, ']');
		if(hend == NULL || hend[1] != ':')
			return -1;
		host++;
		colon = hend + 1;
	} else {
		colon = strrchr(host, ':');
		if(colon == NULL || memchr(host, ':', (size_t)(colon - host)) != NULL)
			return -1;
		hend = colon;
	}
	hlen = (size_t)(hend - host);
	if(hlen == 0 || hlen >= sizeof(out->host))
		return -1;
	for(p = host; p < hend; p++) {
		if(!(isalnum((unsigned char)*p) || *p == '.' || *p == '-'
				   || *p == '_' || (*p == ':' && host[-1] == '[')))
			return -1;
	}
	p = colon + 1;
	if(*p == '\0' || strlen(p) > 5)
		return -1;
	port = 0;
	for(; *p; p++) {
		if(!isdigit((unsigned char)*p))
			return -1;
		port = port * 10 + (*p - '0');
	}
	if(port < 1 || port > 65535)
		return -1;
	memcpy(out->host, host, hlen);
	out->host[hlen] = '\0';
	out->port = (unsigned short)port;
	return 0;
}

static int fmt_host(const ra_carrier_t *c, char *buf, size_t len,
		const char *pre, const char *post)
{
	int n;
	int v6 = strchr(c->host, ':') != NULL;

	n = snprintf(buf, len, "%s%s%s%s:%u%s", pre, v6 ? "[" : "", c->host,
			v6 ? "]" : "", (unsigned)c->port, post);
	if(n < 0 || (size_t)n >= len)
		return -1;
	return n;
}

int ra_carrier_uri(const ra_carrier_t *c, char *buf, size_t len)
{
	return fmt_host(c, buf, len, "sip:",
			c->transport == RA_TRANSPORT_TCP ? ";transport=tcp"
											 : ";transport=udp");
}

int ra_carrier_str(const ra_carrier_t *c, char *buf, size_t len)
{
	return fmt_host(
			c, buf, len, c->transport == RA_TRANSPORT_TCP ? "TCP:" : "UDP:", "");
}

static int parse_carriers(
		json_object *arr, ra_auth_resp_t *out, char *err, size_t errlen)
{
	size_t i, n;
	json_object *v;

	n = json_object_array_length(arr);
	for(i = 0; i < n; i++) {
		v = json_object_array_get_idx(arr, i);
		if(v == NULL || !json_object_is_type(v, json_type_string)) {
			set_err(err, errlen, "carriers[%zu] is not a string", i);
			return -1;
		}
		if(out->ncarriers >= RA_MAX_CARRIERS
				|| ra_json_parse_carrier(json_object_get_string(v),
						   &out->carriers[out->ncarriers])
						   < 0) {
			out->carriers_skipped++;
			continue;
		}
		out->ncarriers++;
	}
	return 0;
}

int ra_json_parse_auth(const char *body, size_t len, ra_auth_resp_t *out,
		char *err, size_t errlen)
{
	json_object *o, *v;
	int r, ret = -1;

	if(out == NULL)
		return -1;
	memset(out, 0, sizeof(*out));
	out->authorized_destination = -1;
	out->reason_null = 1;
	o = parse_object(body, len, err, errlen);
	if(o == NULL)
		return -1;

	r = get_typed(o, "authorized", json_type_boolean, &v);
	if(r <= 0) {
		set_err(err, errlen, r == 0 ? "authorized missing"
									: "authorized is not a boolean");
		goto done;
	}
	out->authorized = json_object_get_boolean(v) ? 1 : 0;

	r = get_typed(o, "authorized_destination", json_type_boolean, &v);
	if(r < 0) {
		set_err(err, errlen, "authorized_destination is not a boolean");
		goto done;
	}
	if(r > 0)
		out->authorized_destination = json_object_get_boolean(v) ? 1 : 0;

	r = get_nullable_str(o, "unauthorized_reason", out->reason,
			sizeof(out->reason));
	if(r < 0) {
		set_err(err, errlen, "unauthorized_reason is not a string or null");
		goto done;
	}
	out->reason_null = (r == 0);

	if(get_nullable_str(o, "unauthorized_account_tag",
			   out->unauthorized_account, sizeof(out->unauthorized_account))
			< 0) {
		set_err(err, errlen,
				"unauthorized_account_tag is not a string or null");
		goto done;
	}

	/* units and carriers decide what an authorized call may do: required
	 * then; on a denial they are only checked when present */
	r = get_typed(o, "max_available_units", json_type_int, &v);
	if(r < 0 || (r == 0 && out->authorized)) {
		set_err(err, errlen, r == 0 ? "max_available_units missing"
									: "max_available_units is not an integer");
		goto done;
	}
	if(r > 0)
		out->max_units = (long long)json_object_get_int64(v);

	/* json-c also reads NaN and Infinity, which are not JSON numbers */
	if(json_object_object_get_ex(o, "balance", &v) && v != NULL) {
		if((!json_object_is_type(v, json_type_int)
				   && !json_object_is_type(v, json_type_double))
				|| !isfinite(json_object_get_double(v))) {
			set_err(err, errlen, "balance is not a number or null");
			goto done;
		}
		out->has_balance = 1;
		out->balance = json_object_get_double(v);
	}

	r = get_typed(o, "carriers", json_type_array, &v);
	if(r < 0 || (r == 0 && out->authorized)) {
		set_err(err, errlen,
				r == 0 ? "carriers missing" : "carriers is not an array");
		goto done;
	}
	if(r > 0 && parse_carriers(v, out, err, errlen) < 0)
		goto done;
	ret = 0;
done:
	json_object_put(o);
	return ret;
}

int ra_json_parse_ack(
		const char *body, size_t len, int *ok, char *err, size_t errlen)
{
	json_object *o, *v;
	int r;

	o = parse_object(body, len, err, errlen);
	if(o == NULL)
		return -1;
	r = get_typed(o, "ok", json_type_boolean, &v);
	if(r <= 0) {
		set_err(err, errlen, r == 0 ? "ok missing" : "ok is not a boolean");
		json_object_put(o);
		return -1;
	}
	*ok = json_object_get_boolean(v) ? 1 : 0;
	json_object_put(o);
	return 0;
}
