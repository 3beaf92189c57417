/*
 * rating_agent module - JSON bodies of the rating agent REST contract
 *
 * Pure C (json-c only, no Kamailio headers) so that it can be unit tested
 * on its own. Every allocation here is plain malloc()/free().
 *
 * This file is part of Kamailio, a free SIP server.
 *
 * Kamailio is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version
 */

#ifndef _RA_JSON_H_
#define _RA_JSON_H_

#include <stddef.h>
#include <time.h>

#define RA_MAX_CARRIERS 16
#define RA_REASON_LEN 64
#define RA_ACCOUNT_LEN 128
#define RA_HOST_LEN 256
#define RA_ERR_LEN 128

/* which endpoint a request body is built for */
typedef enum ra_req_kind {
	RA_REQ_AUTHORIZATION = 0,
	RA_REQ_BEGIN,
	RA_REQ_END,
	RA_REQ_ROLLBACK
} ra_req_kind_t;

/* request fields; NULL or "" optional fields are left out of the body */
typedef struct ra_req_fields {
	const char *tenant;		 /* "default" when NULL/empty */
	const char *transaction_tag; /* required: the SIP Call-ID */
	const char *account_tag;
	const char *destination_account_tag;
	const char *source;
	const char *source_ip;
	const char *destination;
	const char *carrier_ip;
} ra_req_fields_t;

typedef enum ra_transport {
	RA_TRANSPORT_UDP = 0,
	RA_TRANSPORT_TCP
} ra_transport_t;

typedef struct ra_carrier {
	ra_transport_t transport;
	char host[RA_HOST_LEN]; /* IPv6 without brackets */
	unsigned short port;
} ra_carrier_t;

/* a parsed authorization 200 body */
typedef struct ra_auth_resp {
	int authorized;
	int authorized_destination; /* -1: absent */
	int reason_null;			/* unauthorized_reason null or absent */
	char reason[RA_REASON_LEN];
	char unauthorized_account[RA_ACCOUNT_LEN];
	long long max_units; /* 0 when absent on a denial */
	int has_balance;
	double balance;
	int ncarriers;
	int carriers_skipped; /* well-typed strings that are not T:host:port */
	ra_carrier_t carriers[RA_MAX_CARRIERS];
} ra_auth_resp_t;

/* "YYYY-MM-DDTHH:MM:SSZ" of a Unix time into buf (at least 21 bytes);
 * returns 0, or -1 if the time cannot be represented */
int ra_json_timestamp(time_t ts, char *buf, size_t len);

/* Build a request body for the given endpoint; ts is the value of
 * timestamp_auth / timestamp_begin / timestamp_end (rollback sends
 * timestamp_end too). Returns a malloc()ed NUL terminated string or NULL
 * (missing transaction_tag, or no memory). */
char *ra_json_build_request(
		ra_req_kind_t kind, const ra_req_fields_t *f, time_t ts);

/* Parse an authorization 200 body. Returns 0, or -1 with a short reason in
 * err (missing or mistyped field, not JSON, not an object). */
int ra_json_parse_auth(
		const char *body, size_t len, ra_auth_resp_t *out, char *err,
		size_t errlen);

/* Parse a begin/end/rollback 200 body: 0 with *ok set, or -1 with err. */
int ra_json_parse_ack(
		const char *body, size_t len, int *ok, char *err, size_t errlen);

/* Parse one carrier "UDP:host:port" / "TCP:host:port" (transport case
 * insensitive, IPv6 host in brackets). Returns 0 or -1. */
int ra_json_parse_carrier(const char *s, ra_carrier_t *out);

/* "sip:host:port;transport=udp" for a carrier; returns the length written
 * or -1 if buf is too small */
int ra_carrier_uri(const ra_carrier_t *c, char *buf, size_t len);

/* "UDP:host:port" for a carrier; returns the length or -1 */
int ra_carrier_str(const ra_carrier_t *c, char *buf, size_t len);

#endif
