/* cmocka tests: ra_json.c (request bodies, authorization/ack parsing) */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "ra_json.h"

#define T0 ((time_t)1700000000) /* 2023-11-14T22:13:20Z */

static ra_req_fields_t full_fields(void)
{
	ra_req_fields_t f = {
			.tenant = "acme",
			.transaction_tag = "abc@10.0.0.1",
			.account_tag = "1000",
			.destination_account_tag = "2000",
			.source = "sip:1000@carrier.example",
			.source_ip = "127.0.1.10",
			.destination = "sip:4930123@sbc.example",
			.carrier_ip = "127.0.1.20",
	};
	return f;
}

static json_object *parse_or_fail(const char *s)
{
	json_object *o = json_tokener_parse(s);
	assert_non_null(o);
	assert_true(json_object_is_type(o, json_type_object));
	return o;
}

static const char *get_s(json_object *o, const char *k)
{
	json_object *v;
	if(!json_object_object_get_ex(o, k, &v))
		return NULL;
	assert_true(json_object_is_type(v, json_type_string));
	return json_object_get_string(v);
}

static void test_timestamp_format(void **state)
{
	char b[32];
	(void)state;
	assert_int_equal(ra_json_timestamp(0, b, sizeof(b)), 0);
	assert_string_equal(b, "1970-01-01T00:00:00Z");
	assert_int_equal(ra_json_timestamp(T0, b, sizeof(b)), 0);
	assert_string_equal(b, "2023-11-14T22:13:20Z");
	assert_int_equal(ra_json_timestamp(T0, b, 20), -1); /* no room for NUL */
}

static void test_build_auth_all_fields(void **state)
{
	ra_req_fields_t f = full_fields();
	json_object *o, *tags;
	char *s;
	(void)state;

	s = ra_json_build_request(RA_REQ_AUTHORIZATION, &f, T0);
	assert_non_null(s);
	o = parse_or_fail(s);
	assert_string_equal(get_s(o, "tenant"), "acme");
	assert_string_equal(get_s(o, "transaction_tag"), "abc@10.0.0.1");
	assert_string_equal(get_s(o, "account_tag"), "1000");
	assert_string_equal(get_s(o, "destination_account_tag"), "2000");
	assert_string_equal(get_s(o, "source"), "sip:1000@carrier.example");
	assert_string_equal(get_s(o, "source_ip"), "127.0.1.10");
	assert_string_equal(get_s(o, "destination"), "sip:4930123@sbc.example");
	assert_string_equal(get_s(o, "carrier_ip"), "127.0.1.20");
	assert_string_equal(get_s(o, "timestamp_auth"), "2023-11-14T22:13:20Z");
	assert_null(get_s(o, "timestamp_begin"));
	assert_true(json_object_object_get_ex(o, "tags", &tags));
	assert_true(json_object_is_type(tags, json_type_array));
	assert_int_equal(json_object_array_length(tags), 0);
	/* never a null list, and plain (no pretty print / slash escapes) */
	assert_null(strstr(s, "null"));
	assert_non_null(strstr(s, "\"tags\":[]"));
	json_object_put(o);
	free(s);
}

static void test_build_kinds_timestamp_keys(void **state)
{
	ra_req_fields_t f = full_fields();
	const char *keys[] = {"timestamp_auth", "timestamp_begin", "timestamp_end",
			"timestamp_end"};
	json_object *o;
	char *s;
	int k;
	(void)state;

	for(k = RA_REQ_AUTHORIZATION; k <= RA_REQ_ROLLBACK; k++) {
		s = ra_json_build_request((ra_req_kind_t)k, &f, T0 + k);
		assert_non_null(s);
		o = parse_or_fail(s);
		assert_non_null(get_s(o, keys[k]));
		json_object_put(o);
		free(s);
	}
	assert_null(ra_json_build_request((ra_req_kind_t)7, &f, T0));
}

static void test_build_escaping(void **state)
{
	ra_req_fields_t f = {0};
	const char *tag = "a\"b\\c\x01\n\t/d\x1f\xc3\xa9";
	json_object *o;
	char *s;
	(void)state;

	f.transaction_tag = tag;
	f.account_tag = "x\"y";
	s = ra_json_build_request(RA_REQ_BEGIN, &f, T0);
	assert_non_null(s);
	/* no raw control characters in the body */
	for(const char *p = s; *p; p++)
		assert_true((unsigned char)*p >= 0x20);
	o = parse_or_fail(s);
	assert_string_equal(get_s(o, "transaction_tag"), tag);
	assert_string_equal(get_s(o, "account_tag"), "x\"y");
	json_object_put(o);
	free(s);
}

static void test_build_defaults_and_optional(void **state)
{
	ra_req_fields_t f = {0};
	json_object *o;
	char *s;
	(void)state;

	f.transaction_tag = "t1";
	f.source = "";
	s = ra_json_build_request(RA_REQ_END, &f, T0);
	assert_non_null(s);
	o = parse_or_fail(s);
	assert_string_equal(get_s(o, "tenant"), "default");
	assert_null(get_s(o, "source"));
	assert_null(get_s(o, "account_tag"));
	assert_null(get_s(o, "carrier_ip"));
	assert_string_equal(get_s(o, "timestamp_end"), "2023-11-14T22:13:20Z");
	json_object_put(o);
	free(s);
}

static void test_build_requires_tag(void **state)
{
	ra_req_fields_t f = full_fields();
	(void)state;
	f.transaction_tag = NULL;
	assert_null(ra_json_build_request(RA_REQ_AUTHORIZATION, &f, T0));
	f.transaction_tag = "";
	assert_null(ra_json_build_request(RA_REQ_AUTHORIZATION, &f, T0));
	assert_null(ra_json_build_request(RA_REQ_AUTHORIZATION, NULL, T0));
}

#define PARSE(js, r) ra_json_parse_auth(js, strlen(js), r, err, sizeof(err))

static void test_parse_authorized(void **state)
{
	ra_auth_resp_t r;
	char err[128] = "";
	const char *js =
			"{\"authorized\":true,\"authorized_destination\":true,"
			"\"unauthorized_account_tag\":null,\"unauthorized_reason\":null,"
			"\"max_available_units\":3600,\"balance\":12.5,"
			"\"carriers\":[\"UDP:10.0.0.1:5060\",\"TCP:gw.example:5080\"],"
			"\"tenant\":\"acme\",\"transaction_tag\":\"x\"}";
	(void)state;

	assert_int_equal(PARSE(js, &r), 0);
	assert_int_equal(r.authorized, 1);
	assert_int_equal(r.authorized_destination, 1);
	assert_int_equal(r.reason_null, 1);
	assert_string_equal(r.reason, "");
	assert_int_equal(r.max_units, 3600);
	assert_int_equal(r.has_balance, 1);
	assert_true(r.balance > 12.49 && r.balance < 12.51);
	assert_int_equal(r.ncarriers, 2);
	assert_int_equal(r.carriers[0].transport, RA_TRANSPORT_UDP);
	assert_string_equal(r.carriers[0].host, "10.0.0.1");
	assert_int_equal(r.carriers[0].port, 5060);
	assert_int_equal(r.carriers[1].transport, RA_TRANSPORT_TCP);
	assert_string_equal(r.carriers[1].host, "gw.example");
	assert_int_equal(r.carriers[1].port, 5080);
	assert_int_equal(r.carriers_skipped, 0);
}

static void test_parse_denied_reasons(void **state)
{
	ra_auth_resp_t r;
	char err[128] = "";
	(void)state;

	assert_int_equal(
			PARSE("{\"authorized\":false,\"unauthorized_reason\":"
				  "\"BALANCE_INSUFFICIENT\",\"unauthorized_account_tag\":"
				  "\"1000\",\"max_available_units\":0,\"balance\":0,"
				  "\"carriers\":[]}",
					&r),
			0);
	assert_int_equal(r.authorized, 0);
	assert_int_equal(r.reason_null, 0);
	assert_string_equal(r.reason, "BALANCE_INSUFFICIENT");
	assert_string_equal(r.unauthorized_account, "1000");

	/* null reason is a real outcome */
	assert_int_equal(PARSE("{\"authorized\":false,\"unauthorized_reason\":null,"
						   "\"max_available_units\":0,\"carriers\":[]}",
							 &r),
			0);
	assert_int_equal(r.authorized, 0);
	assert_int_equal(r.reason_null, 1);

	/* unknown reasons are passed through for the map to handle */
	assert_int_equal(
			PARSE("{\"authorized\":false,\"unauthorized_reason\":\"MARS\"}", &r),
			0);
	assert_string_equal(r.reason, "MARS");
	assert_int_equal(r.has_balance, 0);
	assert_int_equal(r.ncarriers, 0);

	/* empty string reason */
	assert_int_equal(
			PARSE("{\"authorized\":false,\"unauthorized_reason\":\"\"}", &r), 0);
	assert_int_equal(r.reason_null, 0);
	assert_string_equal(r.reason, "");
}

static void test_parse_units_le_zero_parsed(void **state)
{
	ra_auth_resp_t r;
	char err[128] = "";
	(void)state;
	assert_int_equal(PARSE("{\"authorized\":true,\"max_available_units\":0,"
						   "\"carriers\":[]}",
							 &r),
			0);
	assert_int_equal(r.authorized, 1);
	assert_int_equal(r.max_units, 0);
	assert_int_equal(PARSE("{\"authorized\":true,\"max_available_units\":-5,"
						   "\"carriers\":[]}",
							 &r),
			0);
	assert_int_equal(r.max_units, -5);
}

static void test_parse_missing_fields(void **state)
{
	ra_auth_resp_t r;
	char err[128];
	(void)state;

	err[0] = 0;
	assert_int_equal(PARSE("{\"max_available_units\":10,\"carriers\":[]}", &r),
			-1);
	assert_string_equal(err, "authorized missing");
	assert_int_equal(PARSE("{\"authorized\":true,\"carriers\":[]}", &r), -1);
	assert_string_equal(err, "max_available_units missing");
	assert_int_equal(
			PARSE("{\"authorized\":true,\"max_available_units\":10}", &r), -1);
	assert_string_equal(err, "carriers missing");
	assert_int_equal(PARSE("{}", &r), -1);
}

static void test_parse_wrong_types(void **state)
{
	ra_auth_resp_t r;
	char err[128];
	const char *bad[] = {
			"{\"authorized\":\"true\",\"max_available_units\":1,\"carriers\":[]}",
			"{\"authorized\":1,\"max_available_units\":1,\"carriers\":[]}",
			"{\"authorized\":null,\"max_available_units\":1,\"carriers\":[]}",
			"{\"authorized\":true,\"max_available_units\":\"60\",\"carriers\":[]}",
			"{\"authorized\":true,\"max_available_units\":60.5,\"carriers\":[]}",
			"{\"authorized\":true,\"max_available_units\":null,\"carriers\":[]}",
			"{\"authorized\":true,\"max_available_units\":1,\"carriers\":null}",
			"{\"authorized\":true,\"max_available_units\":1,\"carriers\":\"UDP:a:1\"}",
			"{\"authorized\":true,\"max_available_units\":1,\"carriers\":[1]}",
			"{\"authorized\":true,\"max_available_units\":1,\"carriers\":[null]}",
			"{\"authorized\":true,\"max_available_units\":1,\"carriers\":[],"
			"\"balance\":\"1\"}",
			"{\"authorized\":true,\"max_available_units\":1,\"carriers\":[],"
			"\"balance\":NaN}",
			"{\"authorized\":true,\"max_available_units\":1,\"carriers\":[],"
			"\"balance\":-Infinity}",
			"{\"authorized\":false,\"unauthorized_reason\":5}",
			"{\"authorized\":false,\"unauthorized_reason\":[]}",
			"{\"authorized\":false,\"unauthorized_account_tag\":1}",
			"{\"authorized\":false,\"authorized_destination\":\"no\"}",
			"{\"authorized\":false,\"max_available_units\":\"0\"}",
	};
	size_t i;
	(void)state;

	for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		if(PARSE(bad[i], &r) != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_true(err[0] != 0);
	}
}

static void test_parse_balance_forms(void **state)
{
	ra_auth_resp_t r;
	char err[128];
	(void)state;
	assert_int_equal(PARSE("{\"authorized\":true,\"max_available_units\":1,"
						   "\"carriers\":[],\"balance\":null}",
							 &r),
			0);
	assert_int_equal(r.has_balance, 0);
	assert_int_equal(PARSE("{\"authorized\":true,\"max_available_units\":1,"
						   "\"carriers\":[],\"balance\":7}",
							 &r),
			0);
	assert_int_equal(r.has_balance, 1);
	assert_true(r.balance > 6.99 && r.balance < 7.01);
}

static void test_parse_garbage(void **state)
{
	ra_auth_resp_t r;
	char err[128];
	const char *bad[] = {"", "Internal Server Error", "<html>", "{", "[]",
			"[{\"authorized\":true}]", "\"authorized\"", "null", "42",
			"{\"authorized\":true,\"max_available_units\":1,\"carriers\":[]}x",
			"{\"authorized\":true,\"max_available_units\":1,\"carriers\":[]}{}",
			"{\"authorized\":tru}"};
	size_t i;
	(void)state;

	for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if(ra_json_parse_auth(bad[i], strlen(bad[i]), &r, err, sizeof(err))
				!= -1)
			fail_msg("accepted garbage: '%s'", bad[i]);
	}
	assert_int_equal(ra_json_parse_auth(NULL, 0, &r, err, sizeof(err)), -1);
	/* trailing white space is fine */
	assert_int_equal(PARSE("{\"authorized\":false}\r\n ", &r), 0);
	/* a length shorter than the buffer is honoured */
	assert_int_equal(ra_json_parse_auth("{\"authorized\":false}GARBAGE", 20, &r,
							 err, sizeof(err)),
			0);
}

static void test_parse_carriers_mixed(void **state)
{
	ra_auth_resp_t r;
	char err[128];
	(void)state;
	assert_int_equal(PARSE("{\"authorized\":true,\"max_available_units\":60,"
						   "\"carriers\":[\"TCP:[2001:db8::1]:5061\","
						   "\"SCTP:1.2.3.4:5060\",\"UDP:1.2.3.4\","
						   "\"udp:1.2.3.4:5062\",\"UDP::5060\","
						   "\"UDP:1.2.3.4:99999\",\"UDP:a b:5060\"]}",
							 &r),
			0);
	assert_int_equal(r.ncarriers, 2);
	assert_int_equal(r.carriers_skipped, 5);
	assert_int_equal(r.carriers[0].transport, RA_TRANSPORT_TCP);
	assert_string_equal(r.carriers[0].host, "2001:db8::1");
	assert_int_equal(r.carriers[0].port, 5061);
	assert_int_equal(r.carriers[1].transport, RA_TRANSPORT_UDP);
	assert_int_equal(r.carriers[1].port, 5062);
}

static void test_parse_carriers_cap(void **state)
{
	ra_auth_resp_t r;
	char err[128];
	char js[4096];
	int i, n;
	(void)state;

	n = snprintf(js, sizeof(js),
			"{\"authorized\":true,\"max_available_units\":60,\"carriers\":[");
	for(i = 0; i < RA_MAX_CARRIERS + 4; i++)
		n += snprintf(js + n, sizeof(js) - n, "%s\"UDP:10.0.0.%d:5060\"",
				i ? "," : "", i);
	snprintf(js + n, sizeof(js) - n, "]}");
	assert_int_equal(PARSE(js, &r), 0);
	assert_int_equal(r.ncarriers, RA_MAX_CARRIERS);
	assert_int_equal(r.carriers_skipped, 4);
	assert_string_equal(r.carriers[0].host, "10.0.0.0"); /* order kept */
}

static void test_carrier_parse_and_format(void **state)
{
	ra_carrier_t c;
	char b[128];
	(void)state;

	assert_int_equal(ra_json_parse_carrier("UDP:10.0.0.1:5060", &c), 0);
	assert_int_equal(ra_carrier_uri(&c, b, sizeof(b)) > 0, 1);
	assert_string_equal(b, "sip:10.0.0.1:5060;transport=udp");
	assert_int_equal(ra_carrier_str(&c, b, sizeof(b)) > 0, 1);
	assert_string_equal(b, "UDP:10.0.0.1:5060");
	assert_int_equal(ra_json_parse_carrier("tcp:[::1]:5080", &c), 0);
	assert_int_equal(ra_carrier_uri(&c, b, sizeof(b)) > 0, 1);
	assert_string_equal(b, "sip:[::1]:5080;transport=tcp");
	assert_int_equal(ra_carrier_uri(&c, b, 8), -1);

	assert_int_equal(ra_json_parse_carrier("TLS:1.2.3.4:5061", &c), -1);
	assert_int_equal(ra_json_parse_carrier("UDP:1.2.3.4:", &c), -1);
	assert_int_equal(ra_json_parse_carrier("UDP:1.2.3.4:0", &c), -1);
	assert_int_equal(ra_json_parse_carrier("UDP:1.2.3.4:50x0", &c), -1);
	assert_int_equal(ra_json_parse_carrier("UDP:1:2:3", &c), -1);
	assert_int_equal(ra_json_parse_carrier("UDP:[::1:5060", &c), -1);
	assert_int_equal(ra_json_parse_carrier("UDP:", &c), -1);
	assert_int_equal(ra_json_parse_carrier("", &c), -1);
	assert_int_equal(ra_json_parse_carrier(NULL, &c), -1);
}

static void test_parse_ack(void **state)
{
	int ok = -1;
	char err[128];
	(void)state;
#define ACK(js) ra_json_parse_ack(js, strlen(js), &ok, err, sizeof(err))
	assert_int_equal(ACK("{\"ok\":true,\"transaction_tag\":\"x\"}"), 0);
	assert_int_equal(ok, 1);
	assert_int_equal(ACK("{\"ok\":false}"), 0);
	assert_int_equal(ok, 0);
	assert_int_equal(ACK("{\"ok\":\"true\"}"), -1);
	assert_int_equal(ACK("{}"), -1);
	assert_int_equal(ACK("Internal Server Error"), -1);
	assert_int_equal(ACK("[true]"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test(test_timestamp_format),
			cmocka_unit_test(test_build_auth_all_fields),
			cmocka_unit_test(test_build_kinds_timestamp_keys),
			cmocka_unit_test(test_build_escaping),
			cmocka_unit_test(test_build_defaults_and_optional),
			cmocka_unit_test(test_build_requires_tag),
			cmocka_unit_test(test_parse_authorized),
			cmocka_unit_test(test_parse_denied_reasons),
			cmocka_unit_test(test_parse_units_le_zero_parsed),
			cmocka_unit_test(test_parse_missing_fields),
			cmocka_unit_test(test_parse_wrong_types),
			cmocka_unit_test(test_parse_balance_forms),
			cmocka_unit_test(test_parse_garbage),
			cmocka_unit_test(test_parse_carriers_mixed),
			cmocka_unit_test(test_parse_carriers_cap),
			cmocka_unit_test(test_carrier_parse_and_format),
			cmocka_unit_test(test_parse_ack),
	};
	return cmocka_run_group_tests_name("ra_json", tests, NULL, NULL);
}
