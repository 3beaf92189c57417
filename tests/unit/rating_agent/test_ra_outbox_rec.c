/* cmocka tests: ra_outbox_rec.c (record encoding, backoff), ra_hist.c */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ra_outbox_rec.h"
#include "ra_hist.h"

static ra_rec_t sample(void)
{
	ra_rec_t r = {
			.kind = RA_REC_BEGIN,
			.seq = 1700000000123000ULL,
			.ts = 1700000000,
			.created_ms = 1700000000456LL,
			.tag = "a|b%c\r\n\x01@host",
			.tenant = "acme",
			.account = "1000",
			.dest_account = NULL,
			.source = "sip:1000@x;tag=|",
			.source_ip = "127.0.1.10",
			.destination = "sip:4930@y",
			.carrier_ip = "",
	};
	return r;
}

static void test_roundtrip(void **state)
{
	ra_rec_t r = sample(), d;
	char buf[1024];
	int n;
	(void)state;

	n = ra_rec_encode(&r, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal((int)strlen(buf), n);
	/* one line, no raw separators inside fields */
	assert_null(strchr(buf, '\n'));
	assert_null(strchr(buf, '\r'));
	assert_int_equal(strncmp(buf, "RA1|B|1700000000123000|1700000000|"
								  "1700000000456|",
								 47),
			0);
	assert_int_equal(ra_rec_decode(buf, (size_t)n, &d), 0);
	assert_int_equal(d.kind, RA_REC_BEGIN);
	assert_true(d.seq == r.seq);
	assert_true(d.ts == r.ts);
	assert_true(d.created_ms == r.created_ms);
	assert_string_equal(d.tag, r.tag);
	assert_string_equal(d.tenant, "acme");
	assert_string_equal(d.account, "1000");
	assert_string_equal(d.dest_account, "");
	assert_string_equal(d.source, r.source);
	assert_string_equal(d.source_ip, "127.0.1.10");
	assert_string_equal(d.destination, "sip:4930@y");
	assert_string_equal(d.carrier_ip, "");
	ra_rec_free(&d);
}

static void test_kinds_and_paths(void **state)
{
	ra_rec_t r = sample(), d;
	char buf[1024];
	ra_rec_kind_t k[] = {RA_REC_BEGIN, RA_REC_END, RA_REC_ROLLBACK};
	ra_req_kind_t q[] = {RA_REQ_BEGIN, RA_REQ_END, RA_REQ_ROLLBACK};
	const char *p[] = {"/v1/begin_transaction", "/v1/end_transaction",
			"/v1/rollback_transaction"};
	ra_req_fields_t f;
	int i, n;
	(void)state;

	for(i = 0; i < 3; i++) {
		r.kind = k[i];
		n = ra_rec_encode(&r, buf, sizeof(buf));
		assert_true(n > 0);
		assert_int_equal(ra_rec_decode(buf, (size_t)n, &d), 0);
		assert_int_equal(d.kind, k[i]);
		assert_int_equal(ra_rec_req_kind(&d), q[i]);
		assert_string_equal(ra_rec_path(d.kind), p[i]);
		ra_rec_req_fields(&d, &f);
		assert_string_equal(f.transaction_tag, r.tag);
		assert_string_equal(f.tenant, "acme");
		ra_rec_free(&d);
	}
	assert_string_equal(ra_rec_kind_name(RA_REC_END), "end");
	r.kind = (ra_rec_kind_t)'X';
	assert_int_equal(ra_rec_encode(&r, buf, sizeof(buf)), -1);
}

static void test_encode_limits(void **state)
{
	ra_rec_t r = sample();
	char buf[1024];
	int n, i;
	(void)state;

	n = ra_rec_encode(&r, buf, sizeof(buf));
	assert_true(n > 0);
	/* every shorter buffer fails cleanly, never overflows */
	for(i = 0; i <= n; i++)
		assert_int_equal(ra_rec_encode(&r, buf, (size_t)i), -1);
	assert_int_equal(ra_rec_encode(&r, buf, (size_t)n + 1), n);
	r.tag = "";
	assert_int_equal(ra_rec_encode(&r, buf, sizeof(buf)), -1);
	r.tag = NULL;
	assert_int_equal(ra_rec_encode(&r, buf, sizeof(buf)), -1);
	r = sample();
	r.ts = -1;
	assert_int_equal(ra_rec_encode(&r, buf, sizeof(buf)), -1);
	/* a ts no request body can carry (year 10000) is not written */
	r.ts = RA_REC_TS_MAX + 1;
	assert_int_equal(ra_rec_encode(&r, buf, sizeof(buf)), -1);
}

/* the extremes the encoder writes decode to the same values */
static void test_extremes_round_trip(void **state)
{
	ra_rec_t r = sample(), d;
	char buf[1024];
	int n;
	(void)state;

	r.seq = ULLONG_MAX;
	r.ts = RA_REC_TS_MAX;
	r.created_ms = LLONG_MAX;
	n = ra_rec_encode(&r, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(ra_rec_decode(buf, (size_t)n, &d), 0);
	assert_true(d.seq == ULLONG_MAX);
	assert_true(d.ts == RA_REC_TS_MAX);
	assert_true(d.created_ms == LLONG_MAX);
	ra_rec_free(&d);
}

static void test_decode_malformed(void **state)
{
	ra_rec_t d;
	const char *bad[] = {
			"",
			"RA1",
			"RA2|B|1|2|3|tag|||||||",
			"RA1|X|1|2|3|tag|||||||",
			"RA1|BB|1|2|3|tag|||||||",
			"RA1|B|x|2|3|tag|||||||",
			"RA1|B|1|-2|3|tag|||||||",
			"RA1|B|1||3|tag|||||||",
			"RA1|B|1|2|3||||||||",				  /* empty tag */
			"RA1|B|1|2|3|tag||||||",			  /* 12 fields */
			"RA1|B|1|2|3|tag||||||||",			  /* 14 fields */
			"RA1|B|1|2|3|t%g|||||||",			  /* bad escape */
			"RA1|B|1|2|3|t%2|||||||",			  /* short escape */
			"RA1|B|1|2|3|t%00|||||||",			  /* NUL inside */
			"RA1|B|1|2|3|t\n|||||||",			  /* raw control char */
			"RA1|B|18446744073709551616|2|3|t|||||||", /* > UINT64_MAX */
			"RA1|B|000000000000000000001|2|3|t|||||||", /* 21 digits */
			"RA1|B|1|253402300800|3|t|||||||",		   /* year 10000 */
			"RA1|B|1|2|9223372036854775808|t|||||||",  /* > INT64_MAX */
	};
	size_t i;
	(void)state;

	for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if(ra_rec_decode(bad[i], strlen(bad[i]), &d) != -1)
			fail_msg("decoded malformed '%s'", bad[i]);
	}
	/* embedded NUL within the given length */
	assert_int_equal(ra_rec_decode("RA1|B|1|2|3|t\0|||||||", 20, &d), -1);
	assert_int_equal(ra_rec_decode(NULL, 5, &d), -1);
	/* minimal valid record */
	assert_int_equal(ra_rec_decode("RA1|E|0|0|0|t|||||||", 20, &d), 0);
	assert_string_equal(d.tag, "t");
	assert_int_equal(d.kind, RA_REC_END);
	ra_rec_free(&d);
	ra_rec_free(&d); /* idempotent */
}

static void test_escape_every_byte(void **state)
{
	ra_rec_t r = sample(), d;
	char tag[256];
	char buf[2048];
	int i, n;
	(void)state;

	for(i = 1; i < 256; i++)
		tag[i - 1] = (char)i;
	tag[255] = '\0';
	r.tag = tag;
	n = ra_rec_encode(&r, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(ra_rec_decode(buf, (size_t)n, &d), 0);
	assert_memory_equal(d.tag, tag, 256);
	ra_rec_free(&d);
}

static void test_backoff(void **state)
{
	(void)state;
	/* jitter 1000 = the full step */
	assert_int_equal(ra_backoff_ms(1, 500, 30000, 1000), 500);
	assert_int_equal(ra_backoff_ms(2, 500, 30000, 1000), 1000);
	assert_int_equal(ra_backoff_ms(3, 500, 30000, 1000), 2000);
	assert_int_equal(ra_backoff_ms(7, 500, 30000, 1000), 30000);
	assert_int_equal(ra_backoff_ms(1000000, 500, 30000, 1000), 30000);
	/* jitter 0 = 75% of the step, never above max */
	assert_int_equal(ra_backoff_ms(1, 1000, 30000, 0), 750);
	assert_int_equal(ra_backoff_ms(40, 1000, 30000, 0), 22500);
	assert_true(ra_backoff_ms(40, 1000, 30000, 5000) <= 30000);
	/* silly bounds are fixed, never 0 */
	assert_int_equal(ra_backoff_ms(0, 0, 0, 1000), 1);
	assert_int_equal(ra_backoff_ms(3, 100, 50, 1000), 100);
}

static void test_hist(void **state)
{
	ra_hist_t h;
	int i;
	(void)state;

	memset(&h, 0, sizeof(h));
	assert_int_equal(ra_hist_quantile(&h, 0.5), 0);
	for(i = 0; i < 98; i++)
		ra_hist_add(&h, 4); /* bucket (3,5] */
	ra_hist_add(&h, 180);	/* bucket (150,200] */
	ra_hist_add(&h, 90000); /* open bucket */
	assert_int_equal(h.count, 100);
	assert_int_equal(ra_hist_quantile(&h, 0.5), 5);
	assert_int_equal(ra_hist_quantile(&h, 0.98), 5);
	assert_int_equal(ra_hist_quantile(&h, 0.99), 200);
	assert_int_equal(ra_hist_quantile(&h, 1.0), 90000);
	assert_int_equal(h.max_ms, 90000);

	memset(&h, 0, sizeof(h));
	ra_hist_add(&h, 0);
	assert_int_equal(ra_hist_quantile(&h, 0.99), 0); /* capped by max seen */
	ra_hist_add(&h, 12);
	assert_int_equal(ra_hist_quantile(&h, 0.99), 12);
	assert_int_equal(ra_hist_bound(0), 1);
	assert_int_equal(ra_hist_bound(99), 60000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test(test_roundtrip),
			cmocka_unit_test(test_kinds_and_paths),
			cmocka_unit_test(test_encode_limits),
			cmocka_unit_test(test_extremes_round_trip),
			cmocka_unit_test(test_decode_malformed),
			cmocka_unit_test(test_escape_every_byte),
			cmocka_unit_test(test_backoff),
			cmocka_unit_test(test_hist),
	};
	return cmocka_run_group_tests_name("ra_outbox_rec", tests, NULL, NULL);
}
