/* cmocka tests: ra_reason.c (reply map) and ra_decide.c (policy) */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ra_reason.h"
#include "ra_decide.h"

static int setup_map(void **state)
{
	*state = ra_reason_map_new();
	return *state ? 0 : -1;
}

static int teardown_map(void **state)
{
	ra_reason_map_free(*state);
	return 0;
}

static void expect_reply(
		const ra_reason_map_t *m, const char *reason, int code, const char *ph)
{
	const ra_reply_t *r = ra_reason_map_lookup(m, reason);
	assert_non_null(r);
	assert_int_equal(r->code, code);
	assert_string_equal(r->phrase, ph);
}

static void test_defaults(void **state)
{
	ra_reason_map_t *m = *state;

	expect_reply(m, "NOT_FOUND", 404, "Not Found");
	expect_reply(m, "NOT_ACTIVE", 403, "Account not active");
	expect_reply(m, "UNREACHEABLE_DESTINATION", 404, "Destination unreachable");
	expect_reply(m, "TOO_MANY_RUNNING_TRANSACTIONS", 486, "Too many calls");
	expect_reply(
			m, "TOO_MANY_RUNNING_TRANSACTIONS_INBOUND", 486, "Too many calls");
	expect_reply(
			m, "TOO_MANY_RUNNING_TRANSACTIONS_OUTBOUND", 486, "Too many calls");
	expect_reply(m, "BALANCE_INSUFFICIENT", 402, "Insufficient balance");
	expect_reply(m, RA_REASON_NO_UNITS, 402, "No available units");
	/* null, empty and unknown: the default denial, always a reply */
	expect_reply(m, NULL, 403, "Forbidden");
	expect_reply(m, "", 403, "Forbidden");
	expect_reply(m, "SOMETHING_NEW", 403, "Forbidden");
	expect_reply(m, "not_found", 403, "Forbidden"); /* case sensitive */
}

static void test_overrides(void **state)
{
	ra_reason_map_t *m = *state;
	char err[128];

	assert_int_equal(ra_reason_map_set(m,
							 "BALANCE_INSUFFICIENT=403 Insufficient balance",
							 err, sizeof(err)),
			0);
	expect_reply(m, "BALANCE_INSUFFICIENT", 403, "Insufficient balance");
	assert_int_equal(
			ra_reason_map_set(m, "default=603 Decline", err, sizeof(err)), 0);
	expect_reply(m, NULL, 603, "Decline");
	expect_reply(m, "UNKNOWN_X", 603, "Decline");
	/* a new reason name the agent may add later */
	assert_int_equal(
			ra_reason_map_set(m, "FRAUD_SUSPECTED=403 Fraud  ", err, sizeof(err)),
			0);
	expect_reply(m, "FRAUD_SUSPECTED", 403, "Fraud");
	assert_int_equal(ra_reason_map_size(m), 10);
	/* the rest is untouched */
	expect_reply(m, "NOT_ACTIVE", 403, "Account not active");
}

static void test_bad_overrides(void **state)
{
	ra_reason_map_t *m = *state;
	char err[128];
	const char *bad[] = {"BALANCE_INSUFFICIENT", "=403 X",
			"BALANCE_INSUFFICIENT=", "BALANCE_INSUFFICIENT=200 OK",
			"BALANCE_INSUFFICIENT=700 Nope", "BALANCE_INSUFFICIENT=40 Short",
			"BALANCE_INSUFFICIENT=4033 Long", "BALANCE_INSUFFICIENT=403",
			"BALANCE_INSUFFICIENT=403 ", "BALANCE_INSUFFICIENT=403Forbidden",
			"BAD NAME=403 X", "BAD-NAME=403 X", "X=403 a\r\nVia: evil"};
	size_t i;

	for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		if(ra_reason_map_set(m, bad[i], err, sizeof(err)) != -1)
			fail_msg("accepted '%s'", bad[i]);
		assert_true(err[0] != 0);
	}
	expect_reply(m, "BALANCE_INSUFFICIENT", 402, "Insufficient balance");
	assert_int_equal(ra_reason_map_size(m), 9);
}

static void test_reply_parse(void **state)
{
	ra_reply_t r;
	char err[64];
	(void)state;
	assert_int_equal(
			ra_reply_parse("500 Rating not available", &r, err, sizeof(err)), 0);
	assert_int_equal(r.code, 500);
	assert_string_equal(r.phrase, "Rating not available");
	assert_int_equal(ra_reply_parse("5000 x", &r, err, sizeof(err)), -1);
	assert_int_equal(ra_reply_parse(NULL, &r, err, sizeof(err)), -1);
}

/* ---- ra_decide: the authorization policy ---- */

static ra_reply_t fail500 = {500, "Rating not available"};

static void decide(const ra_reason_map_t *m, long st, const char *body,
		ra_fail_policy_t pol, ra_outcome_t *o)
{
	ra_decide(st, body, body ? strlen(body) : 0, st ? NULL : "timeout", m, pol,
			&fail500, o);
}

static void test_decide_authorized(void **state)
{
	ra_outcome_t o;
	decide(*state, 200,
			"{\"authorized\":true,\"max_available_units\":5,"
			"\"carriers\":[\"TCP:1.2.3.4:5060\"],\"unauthorized_reason\":null}",
			RA_FAIL_CLOSED, &o);
	assert_int_equal(o.kind, RA_OUT_AUTHORIZED);
	assert_int_equal(o.proceed, 1);
	assert_int_equal(o.code, 0);
	assert_int_equal(o.have_resp, 1);
	assert_int_equal(o.resp.max_units, 5);
	assert_int_equal(o.resp.ncarriers, 1);
	assert_string_equal(o.error, "");
	assert_string_equal(ra_outcome_name(o.kind), "authorized");
}

static void test_decide_denials(void **state)
{
	ra_outcome_t o;

	decide(*state, 200,
			"{\"authorized\":false,\"unauthorized_reason\":\"NOT_ACTIVE\"}",
			RA_FAIL_OPEN, &o);
	assert_int_equal(o.kind, RA_OUT_DENIED);
	assert_int_equal(o.proceed, 0);
	assert_int_equal(o.code, 403);
	assert_string_equal(o.reason, "NOT_ACTIVE");

	decide(*state, 200, "{\"authorized\":false,\"unauthorized_reason\":null}",
			RA_FAIL_OPEN, &o);
	assert_int_equal(o.kind, RA_OUT_DENIED);
	assert_int_equal(o.code, 403);
	assert_string_equal(o.phrase, "Forbidden");

	decide(*state, 200, "{\"authorized\":false,\"unauthorized_reason\":\"ZZ\"}",
			RA_FAIL_CLOSED, &o);
	assert_int_equal(o.code, 403);
	assert_string_equal(o.reason, "ZZ");
}

static void test_decide_units_le_zero_is_denial(void **state)
{
	ra_outcome_t o;
	decide(*state, 200,
			"{\"authorized\":true,\"max_available_units\":0,\"carriers\":[]}",
			RA_FAIL_OPEN, &o);
	assert_int_equal(o.kind, RA_OUT_DENIED);
	assert_int_equal(o.proceed, 0);
	assert_int_equal(o.code, 402);
	assert_string_equal(o.reason, RA_REASON_NO_UNITS);
	decide(*state, 200,
			"{\"authorized\":true,\"max_available_units\":-1,\"carriers\":[]}",
			RA_FAIL_OPEN, &o);
	assert_int_equal(o.kind, RA_OUT_DENIED);
}

static void test_decide_failures(void **state)
{
	ra_outcome_t o;
	struct {
		long st;
		const char *body;
		const char *err;
	} cases[] = {
			{0, NULL, "timeout"},
			{500, "Internal Server Error", "http 500"},
			{503, "", "http 503"},
			{422, "{\"detail\":[]}", "http 422"},
			{400, "{}", "http 400"},
			{204, "", "http 204"},
			{200, "garbage", "bad body: not JSON"},
			{200, "{\"authorized\":\"yes\"}",
					"bad body: authorized is not a boolean"},
			{200, "{\"authorized\":true}", "bad body: max_available_units missing"},
	};
	size_t i;

	for(i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		decide(*state, cases[i].st, cases[i].body, RA_FAIL_CLOSED, &o);
		assert_int_equal(o.kind, RA_OUT_FAIL_CLOSED);
		assert_int_equal(o.proceed, 0);
		assert_int_equal(o.code, 500);
		assert_string_equal(o.phrase, "Rating not available");
		assert_string_equal(o.error, cases[i].err);
		decide(*state, cases[i].st, cases[i].body, RA_FAIL_OPEN, &o);
		assert_int_equal(o.kind, RA_OUT_FAIL_OPEN);
		assert_int_equal(o.proceed, 1);
		assert_int_equal(o.code, 0);
		assert_string_equal(o.error, cases[i].err);
	}
}

static void test_decide_error_local(void **state)
{
	ra_outcome_t o;
	(void)state;
	memset(&o, 0, sizeof(o));
	ra_decide_error("queue full", RA_FAIL_CLOSED, &fail500, &o);
	assert_int_equal(o.kind, RA_OUT_FAIL_CLOSED);
	assert_int_equal(o.code, 500);
	assert_string_equal(o.error, "queue full");
	memset(&o, 0, sizeof(o));
	ra_decide_error(NULL, RA_FAIL_OPEN, &fail500, &o);
	assert_int_equal(o.kind, RA_OUT_FAIL_OPEN);
	assert_string_equal(o.error, "error");
	assert_string_equal(ra_outcome_name(RA_OUT_KINDS), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test_setup_teardown(test_defaults, setup_map, teardown_map),
			cmocka_unit_test_setup_teardown(
					test_overrides, setup_map, teardown_map),
			cmocka_unit_test_setup_teardown(
					test_bad_overrides, setup_map, teardown_map),
			cmocka_unit_test(test_reply_parse),
			cmocka_unit_test_setup_teardown(
					test_decide_authorized, setup_map, teardown_map),
			cmocka_unit_test_setup_teardown(
					test_decide_denials, setup_map, teardown_map),
			cmocka_unit_test_setup_teardown(
					test_decide_units_le_zero_is_denial, setup_map, teardown_map),
			cmocka_unit_test_setup_teardown(
					test_decide_failures, setup_map, teardown_map),
			cmocka_unit_test(test_decide_error_local),
	};
	return cmocka_run_group_tests_name("ra_reason", tests, NULL, NULL);
}
