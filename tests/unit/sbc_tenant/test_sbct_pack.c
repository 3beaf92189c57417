/*
 * cmocka tests of the packed did_routing record parser
 * (src/modules/sbc_tenant/sbct_pack.c, used by the packed MySQL load)
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sbct_pack.h"

static sbct_prec_t rec;

static int parse(const char *s)
{
	memset(&rec, 0x5a, sizeof(rec)); /* no field may keep old bytes */
	return sbct_pack_record(s, s + strlen(s), &rec);
}

static void test_full_record(void **state)
{
	(void)state;
	/* did "4930123", uri "sip:10.0.0.1:5060" */
	assert_int_equal(parse("17,1,42,300,-5,34393330313233,7369703A31302E302E302E313A35303630"), 0);
	assert_int_equal(rec.id, 17);
	assert_int_equal(rec.enabled, 1);
	assert_int_equal(rec.tenant, 42);
	assert_int_equal(rec.group, 300);
	assert_int_equal(rec.priority, -5);
	assert_false(rec.null_enabled || rec.null_tenant || rec.null_group
				 || rec.null_priority || rec.null_did || rec.null_uri);
	assert_false(rec.did_long || rec.uri_long);
	assert_int_equal(rec.did_len, 7);
	assert_memory_equal(rec.did, "4930123", 7);
	assert_int_equal(rec.uri_len, 17);
	assert_memory_equal(rec.uri, "sip:10.0.0.1:5060", 17);
}

static void test_nulls_and_empty(void **state)
{
	(void)state;
	assert_int_equal(parse("5,N,N,N,N,N,N"), 0);
	assert_true(rec.null_enabled && rec.null_tenant && rec.null_group
				&& rec.null_priority && rec.null_did && rec.null_uri);
	/* HEX('') is '': an empty string, not NULL */
	assert_int_equal(parse("5,0,1,N,0,,"), 0);
	assert_false(rec.null_did || rec.null_uri);
	assert_int_equal(rec.did_len, 0);
	assert_int_equal(rec.uri_len, 0);
	assert_int_equal(rec.enabled, 0);
	assert_true(rec.null_group);
}

static void test_separators_inside_values(void **state)
{
	(void)state;
	/* uri "a,b;c" and did "+49*": hex keeps them away from the format */
	assert_int_equal(parse("1,1,1,N,0,2B34392A,612C623B63"), 0);
	assert_int_equal(rec.did_len, 4);
	assert_memory_equal(rec.did, "+49*", 4);
	assert_int_equal(rec.uri_len, 5);
	assert_memory_equal(rec.uri, "a,b;c", 5);
	/* lower-case hex too */
	assert_int_equal(parse("1,1,1,N,0,2b34392a,N"), 0);
	assert_memory_equal(rec.did, "+49*", 4);
}

static void test_big_numbers(void **state)
{
	(void)state;
	assert_int_equal(parse("4294967295,1,4294967295,-2147483648,2147483647,31,N"), 0);
	assert_int_equal(rec.id, 4294967295LL);
	assert_int_equal(rec.tenant, 4294967295LL);
	assert_int_equal(rec.group, -2147483648LL);
	/* 19 digits and more are refused, not wrapped */
	assert_int_equal(parse("1,1,1234567890123456789,N,0,31,N"), -1);
}

static void test_long_strings(void **state)
{
	char *s = malloc(2 * (SBCT_HEX_MAX + 1) + 64);
	size_t n;

	(void)state;
	n = (size_t)sprintf(s, "1,1,1,N,0,31,");
	memset(s + n, 'A', 2 * (SBCT_HEX_MAX + 1));
	s[n + 2 * (SBCT_HEX_MAX + 1)] = '\0';
	assert_int_equal(parse(s), 0);
	assert_true(rec.uri_long);
	assert_int_equal(rec.uri_len, 0);
	/* exactly SBCT_HEX_MAX bytes still fit */
	s[n + 2 * SBCT_HEX_MAX] = '\0';
	assert_int_equal(parse(s), 0);
	assert_false(rec.uri_long);
	assert_int_equal(rec.uri_len, SBCT_HEX_MAX);
	free(s);
}

static void test_malformed(void **state)
{
	static const char *bad[] = {
			"",						/* nothing */
			"1,1,1,N,0,31",			/* 6 fields */
			"1,1,1,N,0",			/* 5 fields */
			"1,1,1,N,0,31,N,",		/* 8 fields */
			"1,1,1,N,0,31,N,7",		/* 8 fields */
			"N,1,1,N,0,31,N",		/* NULL id */
			",1,1,N,0,31,N",		/* empty id */
			"1,,1,N,0,31,N",		/* empty number */
			"1,1,x,N,0,31,N",		/* not a number */
			"1,1,1,5a,0,31,N",		/* trailing garbage */
			"1,1,1,-,0,31,N",		/* sign only */
			"1,1,1,N,0,313,N",		/* odd hex */
			"1,1,1,N,0,3G,N",		/* not hex */
			"1,1,1,N,0,31,NN",		/* not hex */
			"1,1,1,N,0, 31,N",		/* space */
	};
	size_t i;

	(void)state;
	for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if(parse(bad[i]) != -1)
			fail_msg("accepted malformed record \"%s\"", bad[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test(test_full_record),
			cmocka_unit_test(test_nulls_and_empty),
			cmocka_unit_test(test_separators_inside_values),
			cmocka_unit_test(test_big_numbers),
			cmocka_unit_test(test_long_strings),
			cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests_name("sbct_pack", tests, NULL, NULL);
}
