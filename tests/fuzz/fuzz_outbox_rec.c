/*
 * libFuzzer harness: outbox records of the rating_agent module
 * (src/modules/rating_agent/ra_outbox_rec.c).
 *
 * An input starting with 'e' is a record to encode: the kind byte, then
 * seq, ts and created_ms and the eight text fields, one per line; it must
 * encode (or be refused for a missing tag, a bad kind, a negative time or
 * a ts past RA_REC_TS_MAX) and decode back to the same values. Any other input is an encoded
 * record as read back from Redis: when it decodes, it must
 *   - encode again to at most its own length, and that encoding must be
 *     canonical (decode + encode gives the same bytes and values);
 *   - give a request body the sender can post (ra_json_build_request()
 *     with the record's kind, fields and time), whose transaction_tag,
 *     tenant and timestamp are the record's;
 * and when it does not decode it must leave nothing allocated behind.
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "ra_outbox_rec.h"
#include "fuzz_util.h"

static const char *field(const ra_rec_t *r, int i)
{
	const char *f[RA_REC_NFIELDS] = {r->tag, r->tenant, r->account,
			r->dest_account, r->source, r->source_ip, r->destination,
			r->carrier_ip};
	return f[i] ? f[i] : "";
}

static void check_same(const ra_rec_t *a, const ra_rec_t *b)
{
	int i;

	FUZZ_CHECK(a->kind == b->kind && a->seq == b->seq && a->ts == b->ts
					   && a->created_ms == b->created_ms,
			"kind/seq/ts/created_ms");
	for(i = 0; i < RA_REC_NFIELDS; i++)
		FUZZ_CHECK(strcmp(field(a, i), field(b, i)) == 0, "text field %d", i);
}

static char g_enc[RA_REC_MAX_LEN + 1], g_enc2[RA_REC_MAX_LEN + 1];

static void check_request(const ra_rec_t *r)
{
	static const char *ts_key[] = {"timestamp_auth", "timestamp_begin",
			"timestamp_end", "timestamp_end"};
	ra_req_fields_t f;
	ra_req_kind_t kind = ra_rec_req_kind(r);
	json_object *o, *v;
	char ts[32], *body;

	FUZZ_CHECK(ra_rec_path(r->kind) != NULL, "no path for kind %c", r->kind);
	ra_rec_req_fields(r, &f);
	body = ra_json_build_request(kind, &f, (time_t)r->ts);
	FUZZ_CHECK(body != NULL, "record with ts %lld gives no request body",
			r->ts);
	FUZZ_CHECK(ra_json_timestamp((time_t)r->ts, ts, sizeof(ts)) == 0,
			"timestamp");
	o = json_tokener_parse(body);
	FUZZ_CHECK(o != NULL, "body is not JSON: %s", body);
	FUZZ_CHECK(json_object_object_get_ex(o, "transaction_tag", &v)
					   && strcmp(json_object_get_string(v), r->tag) == 0,
			"transaction_tag in %s", body);
	FUZZ_CHECK(json_object_object_get_ex(o, "tenant", &v)
					   && strcmp(json_object_get_string(v),
								  r->tenant[0] ? r->tenant : "default")
								  == 0,
			"tenant in %s", body);
	FUZZ_CHECK(json_object_object_get_ex(o, ts_key[kind], &v)
					   && strcmp(json_object_get_string(v), ts) == 0,
			"%s in %s", ts_key[kind], body);
	json_object_put(o);
	free(body);
}

static void fuzz_decode(const char *s, size_t len)
{
	ra_rec_t r, again;
	int n, n2;

	if(ra_rec_decode(s, len, &r) < 0) {
		FUZZ_CHECK(len == 0 || len > RA_REC_MAX_LEN || r.mem_ == NULL,
				"a failed decode kept memory");
		return;
	}
	FUZZ_CHECK(r.tag != NULL && r.tag[0] != '\0', "decoded without a tag");
	n = ra_rec_encode(&r, g_enc, sizeof(g_enc));
	FUZZ_CHECK(n > 0 && (size_t)n <= len && (size_t)n == strlen(g_enc),
			"encoding of %zu bytes gave %d", len, n);
	FUZZ_CHECK(ra_rec_decode(g_enc, (size_t)n, &again) == 0,
			"encoding '%s' does not decode", g_enc);
	check_same(&r, &again);
	n2 = ra_rec_encode(&again, g_enc2, sizeof(g_enc2));
	FUZZ_CHECK(n2 == n && memcmp(g_enc, g_enc2, (size_t)n) == 0,
			"encoding not canonical");
	check_request(&r);
	ra_rec_free(&again);
	ra_rec_free(&r);
	FUZZ_CHECK(r.mem_ == NULL && r.tag == NULL, "ra_rec_free");
}

static void fuzz_encode(fuzz_span_t in)
{
	fuzz_span_t l;
	char *txt[RA_REC_NFIELDS];
	ra_rec_t r, back;
	int i, n;

	memset(&r, 0, sizeof(r));
	l = fuzz_field(&in, '\n');
	r.kind = (ra_rec_kind_t)(l.len > 0 ? (unsigned char)l.s[0] : 0);
	r.seq = (unsigned long long)fuzz_ll(fuzz_field(&in, '\n'));
	r.ts = fuzz_ll(fuzz_field(&in, '\n'));
	r.created_ms = fuzz_ll(fuzz_field(&in, '\n'));
	for(i = 0; i < RA_REC_NFIELDS; i++)
		txt[i] = fuzz_strdup(fuzz_field(&in, '\n'));
	r.tag = txt[0];
	r.tenant = txt[1];
	r.account = txt[2];
	r.dest_account = txt[3];
	r.source = txt[4];
	r.source_ip = txt[5];
	r.destination = txt[6];
	r.carrier_ip = txt[7];
	n = ra_rec_encode(&r, g_enc, sizeof(g_enc));
	if(r.tag[0] == '\0' || r.ts < 0 || r.ts > RA_REC_TS_MAX || r.created_ms < 0
			|| (r.kind != RA_REC_BEGIN && r.kind != RA_REC_END
					&& r.kind != RA_REC_ROLLBACK)) {
		FUZZ_CHECK(n < 0, "invalid record encoded");
	} else if(n >= 0) { /* else too long for the buffer */
		FUZZ_CHECK((size_t)n == strlen(g_enc) && strchr(g_enc, '\n') == NULL,
				"encoding");
		FUZZ_CHECK(ra_rec_decode(g_enc, (size_t)n, &back) == 0,
				"'%s' does not decode", g_enc);
		check_same(&r, &back);
		ra_rec_free(&back);
	}
	for(i = 0; i < RA_REC_NFIELDS; i++)
		free(txt[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_span_t in = {(const char *)data, size};

	if(size > 0 && data[0] == 'e') {
		in.s++;
		in.len--;
		fuzz_encode(in);
	} else {
		fuzz_decode(in.s, in.len);
	}
	return 0;
}
