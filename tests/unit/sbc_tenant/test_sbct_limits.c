/*
 * cmocka tests of the sbc_tenant per-tenant counters and limits
 * (src/modules/sbc_tenant/sbct_limits.c): counter table, concurrent-call
 * slots, the CPS token bucket (GCRA), per-second windows, and the same
 * under several threads hammering one counter.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sbct_limits.h"

#define S SBCT_NS_PER_S
#define T0 (1000 * S) /* a monotonic clock is far from 0 */

static sbct_counters_t *new_table(uint32_t cap)
{
	void *mem = malloc(sbct_counters_mem_size(cap));

	assert_non_null(mem);
	return sbct_counters_init(mem, cap);
}

/* ---- table -------------------------------------------------------------- */

static void test_table_get_create(void **state)
{
	sbct_counters_t *t = new_table(8);
	sbct_counter_t *a, *b;

	(void)state;
	assert_int_equal(sbct_counters_cap(t), 8);
	assert_null(sbct_counter_get(t, 42, 0));
	a = sbct_counter_get(t, 42, 1);
	assert_non_null(a);
	assert_ptr_equal(sbct_counter_get(t, 42, 0), a);
	assert_ptr_equal(sbct_counter_get(t, 42, 1), a);
	b = sbct_counter_get(t, 0, 1); /* id 0 is a valid tenant id */
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	assert_non_null(sbct_counter_get(t, 0xffffffffu, 1));
	assert_int_equal(sbct_counters_used(t), 3);
	free(t);
}

static void test_table_full(void **state)
{
	sbct_counters_t *t = new_table(4);
	uint32_t i, found = 0;
	sbct_counter_snap_t s;

	(void)state;
	for(i = 1; i <= 4; i++)
		assert_non_null(sbct_counter_get(t, i * 1000, 1));
	assert_null(sbct_counter_get(t, 5000, 1));
	assert_null(sbct_counter_get(t, 5000, 0));
	/* existing ones are still found when full */
	for(i = 1; i <= 4; i++)
		assert_non_null(sbct_counter_get(t, i * 1000, 0));
	assert_int_equal(sbct_counters_used(t), 4);
	for(i = 0; i < sbct_counters_cap(t); i++) {
		sbct_counter_t *c = sbct_counter_at(t, i);
		if(c) {
			sbct_counter_snapshot(c, T0, &s);
			assert_true(s.tenant_id % 1000 == 0);
			found++;
		}
	}
	assert_int_equal(found, 4);
	assert_null(sbct_counter_at(t, 4));
	free(t);
}

/* ---- concurrent calls -------------------------------------------------- */

static void test_calls_max(void **state)
{
	sbct_counters_t *t = new_table(16);
	sbct_counter_t *c = sbct_counter_get(t, 7, 1);
	sbct_counter_snap_t s;

	(void)state;
	assert_int_equal(sbct_limits_check(c, 2, 0, T0, NULL), SBCT_LIMIT_OK);
	assert_int_equal(sbct_limits_check(c, 2, 0, T0, NULL), SBCT_LIMIT_OK);
	assert_int_equal(sbct_limits_check(c, 2, 0, T0, NULL), SBCT_LIMIT_CALLS);
	sbct_calls_release(c); /* one call hangs up */
	assert_int_equal(sbct_limits_check(c, 2, 0, T0, NULL), SBCT_LIMIT_OK);
	assert_int_equal(sbct_limits_check(c, 2, 0, T0, NULL), SBCT_LIMIT_CALLS);
	sbct_counter_snapshot(c, T0, &s);
	assert_int_equal(s.calls, 2);
	assert_int_equal(s.accepted, 3);
	assert_int_equal(s.rejected_calls, 2);
	assert_int_equal(s.rejected_cps, 0);
	/* a lower limit after a reload: no new call until below it */
	assert_int_equal(sbct_limits_check(c, 1, 0, T0, NULL), SBCT_LIMIT_CALLS);
	sbct_calls_release(c);
	assert_int_equal(sbct_limits_check(c, 1, 0, T0, NULL), SBCT_LIMIT_CALLS);
	sbct_calls_release(c);
	assert_int_equal(sbct_limits_check(c, 1, 0, T0, NULL), SBCT_LIMIT_OK);
	free(t);
}

static void test_calls_unlimited_still_counted(void **state)
{
	sbct_counters_t *t = new_table(16);
	sbct_counter_t *c = sbct_counter_get(t, 7, 1);
	sbct_counter_snap_t s;
	int i;

	(void)state;
	for(i = 0; i < 1000; i++)
		assert_int_equal(sbct_limits_check(c, 0, 0, T0, NULL), SBCT_LIMIT_OK);
	sbct_counter_snapshot(c, T0, &s);
	assert_int_equal(s.calls, 1000);
	for(i = 0; i < 1000; i++)
		sbct_calls_release(c);
	sbct_counter_snapshot(c, T0, &s);
	assert_int_equal(s.calls, 0);
	free(t);
}

static void test_release_never_negative(void **state)
{
	sbct_counters_t *t = new_table(16);
	sbct_counter_t *c = sbct_counter_get(t, 7, 1);
	sbct_counter_snap_t s;

	(void)state;
	sbct_calls_release(c);
	sbct_calls_release(c);
	sbct_counter_snapshot(c, T0, &s);
	assert_int_equal(s.calls, 0);
	assert_int_equal(sbct_calls_acquire(c, 1), SBCT_LIMIT_OK);
	assert_int_equal(sbct_calls_acquire(c, 1), SBCT_LIMIT_CALLS);
	free(t);
}

/* ---- token bucket -------------------------------------------------------- */

static void test_cps_burst_then_refill(void **state)
{
	sbct_counters_t *t = new_table(16);
	sbct_counter_t *c = sbct_counter_get(t, 1, 1);
	uint64_t retry = 0;
	int i;

	(void)state;
	/* a full bucket: 10 calls at the same instant, the 11th refused */
	for(i = 0; i < 10; i++)
		assert_int_equal(sbct_cps_take(c, 10, T0, NULL), SBCT_LIMIT_OK);
	assert_int_equal(sbct_cps_take(c, 10, T0, &retry), SBCT_LIMIT_CPS);
	assert_true(retry > 0 && retry <= S / 10);
	/* one token back after 1/10 s, not before */
	assert_int_equal(
			sbct_cps_take(c, 10, T0 + S / 10 - 1000, NULL), SBCT_LIMIT_CPS);
	assert_int_equal(sbct_cps_take(c, 10, T0 + S / 10, NULL), SBCT_LIMIT_OK);
	assert_int_equal(sbct_cps_take(c, 10, T0 + S / 10, NULL), SBCT_LIMIT_CPS);
	/* idle for a long time: the bucket is full again, not fuller */
	for(i = 0; i < 10; i++)
		assert_int_equal(sbct_cps_take(c, 10, T0 + 60 * S, NULL), SBCT_LIMIT_OK);
	assert_int_equal(sbct_cps_take(c, 10, T0 + 60 * S, NULL), SBCT_LIMIT_CPS);
	free(t);
}

static void test_cps_steady_rate(void **state)
{
	sbct_counters_t *t = new_table(16);
	sbct_counter_t *c = sbct_counter_get(t, 1, 1);
	uint64_t now;
	int ok = 0;

	(void)state;
	/* offered 1000 calls/s for 10 s against max_cps 50: the first second
	 * gets the burst (50) plus the refill, then 50 per second */
	for(now = T0; now < T0 + 10 * S; now += S / 1000)
		if(sbct_cps_take(c, 50, now, NULL) == SBCT_LIMIT_OK)
			ok++;
	assert_in_range(ok, 50 * 10 + 48, 50 * 10 + 50);
	free(t);
}

static void test_cps_one(void **state)
{
	sbct_counters_t *t = new_table(16);
	sbct_counter_t *c = sbct_counter_get(t, 1, 1);

	(void)state;
	assert_int_equal(sbct_cps_take(c, 1, T0, NULL), SBCT_LIMIT_OK);
	assert_int_equal(sbct_cps_take(c, 1, T0 + S / 2, NULL), SBCT_LIMIT_CPS);
	assert_int_equal(sbct_cps_take(c, 1, T0 + S, NULL), SBCT_LIMIT_OK);
	/* frequent checks never starve the refill (no lost fractions) */
	{
		uint64_t now;
		int ok = 0;
		for(now = T0 + S + 1000; now <= T0 + 11 * S + 1000; now += 1000000)
			if(sbct_cps_take(c, 1, now, NULL) == SBCT_LIMIT_OK)
				ok++;
		assert_int_equal(ok, 10);
	}
	free(t);
}

static void test_cps_unlimited_and_limit_change(void **state)
{
	sbct_counters_t *t = new_table(16);
	sbct_counter_t *c = sbct_counter_get(t, 1, 1);
	int i, ok = 0;

	(void)state;
	for(i = 0; i < 100000; i++)
		assert_int_equal(sbct_cps_take(c, 0, T0, NULL), SBCT_LIMIT_OK);
	/* max_cps 2 -> 5 (a reload): the bucket state carries over */
	assert_int_equal(sbct_cps_take(c, 2, T0, NULL), SBCT_LIMIT_OK);
	assert_int_equal(sbct_cps_take(c, 2, T0, NULL), SBCT_LIMIT_OK);
	assert_int_equal(sbct_cps_take(c, 2, T0, NULL), SBCT_LIMIT_CPS);
	for(i = 0; i < 10; i++)
		if(sbct_cps_take(c, 5, T0, NULL) == SBCT_LIMIT_OK)
			ok++;
	assert_in_range(ok, 0, 4); /* not a fresh bucket of 5 */
	/* huge limits are effectively unlimited, never a division by zero */
	for(i = 0; i < 1000; i++)
		assert_int_equal(
				sbct_cps_take(c, 2147483647, T0 + S, NULL), SBCT_LIMIT_OK);
	free(t);
}

static void test_cps_refusal_frees_the_slot(void **state)
{
	sbct_counters_t *t = new_table(16);
	sbct_counter_t *c = sbct_counter_get(t, 1, 1);
	sbct_counter_snap_t s;
	uint64_t retry = 0;

	(void)state;
	assert_int_equal(sbct_limits_check(c, 5, 1, T0, NULL), SBCT_LIMIT_OK);
	assert_int_equal(sbct_limits_check(c, 5, 1, T0, &retry), SBCT_LIMIT_CPS);
	assert_true(retry > 0 && retry <= S);
	sbct_counter_snapshot(c, T0, &s);
	assert_int_equal(s.calls, 1);
	assert_int_equal(s.rejected_cps, 1);
	assert_int_equal(s.rejected_calls, 0);
	/* refused for calls: no token taken */
	assert_int_equal(sbct_limits_check(c, 1, 1, T0 + S, NULL), SBCT_LIMIT_CALLS);
	sbct_calls_release(c);
	assert_int_equal(sbct_limits_check(c, 1, 1, T0 + S, NULL), SBCT_LIMIT_OK);
	free(t);
}

/* ---- per-second windows -------------------------------------------------- */

static void test_rate_windows(void **state)
{
	sbct_counters_t *t = new_table(16);
	sbct_counter_t *c = sbct_counter_get(t, 1, 1);
	sbct_counter_snap_t s;
	int i;

	(void)state;
	for(i = 0; i < 7; i++)
		assert_int_equal(
				sbct_limits_check(c, 0, 0, T0 + i * 1000, NULL), SBCT_LIMIT_OK);
	sbct_counter_snapshot(c, T0 + S / 2, &s);
	assert_int_equal(s.calls_this_second, 7);
	assert_int_equal(s.calls_last_second, 0);
	sbct_counter_snapshot(c, T0 + S, &s);
	assert_int_equal(s.calls_this_second, 0);
	assert_int_equal(s.calls_last_second, 7);
	for(i = 0; i < 3; i++)
		sbct_limits_check(c, 0, 0, T0 + S + 10, NULL);
	sbct_counter_snapshot(c, T0 + S + 20, &s);
	assert_int_equal(s.calls_this_second, 3);
	assert_int_equal(s.calls_last_second, 7);
	sbct_counter_snapshot(c, T0 + 3 * S, &s);
	assert_int_equal(s.calls_this_second, 0);
	assert_int_equal(s.calls_last_second, 0);
	free(t);
}

/* ---- several threads on one tenant -------------------------------------- */

#define THREADS 4
#define ROUNDS 200000

typedef struct hammer
{
	sbct_counters_t *t;
	int max_seen_ok; /* 1 while no thread saw more than max calls */
	int granted;
} hammer_t;

static void *calls_worker(void *arg)
{
	hammer_t *h = arg;
	sbct_counter_t *c;
	sbct_counter_snap_t s;
	int i;

	for(i = 0; i < ROUNDS; i++) {
		c = sbct_counter_get(h->t, (uint32_t)(i % 3), 1);
		if(sbct_calls_acquire(c, 3) == SBCT_LIMIT_OK) {
			sbct_counter_snapshot(c, T0, &s);
			if(s.calls > 3 || s.calls < 1)
				__atomic_store_n(&h->max_seen_ok, 0, __ATOMIC_RELAXED);
			sbct_calls_release(c);
		}
	}
	return NULL;
}

static void *cps_worker(void *arg)
{
	hammer_t *h = arg;
	sbct_counter_t *c = sbct_counter_get(h->t, 99, 1);
	int i, n = 0;

	for(i = 0; i < ROUNDS / 10; i++)
		if(sbct_cps_take(c, 1000, T0, NULL) == SBCT_LIMIT_OK)
			n++;
	__atomic_add_fetch(&h->granted, n, __ATOMIC_RELAXED);
	return NULL;
}

static void run_threads(void *(*fn)(void *), hammer_t *h)
{
	pthread_t th[THREADS];
	int i;

	for(i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, fn, h), 0);
	for(i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
}

static void test_threads(void **state)
{
	hammer_t h;
	sbct_counter_snap_t s;
	uint32_t i;

	(void)state;
	memset(&h, 0, sizeof(h));
	h.t = new_table(64);
	h.max_seen_ok = 1;
	run_threads(calls_worker, &h);
	assert_int_equal(h.max_seen_ok, 1);
	for(i = 0; i < 3; i++) {
		sbct_counter_snapshot(sbct_counter_get(h.t, i, 0), T0, &s);
		assert_int_equal(s.calls, 0); /* every slot given back once */
	}
	/* a full bucket of 1000 tokens at one instant: exactly 1000 granted */
	run_threads(cps_worker, &h);
	assert_int_equal(h.granted, 1000);
	assert_int_equal(sbct_counters_used(h.t), 4);
	free(h.t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test(test_table_get_create),
			cmocka_unit_test(test_table_full),
			cmocka_unit_test(test_calls_max),
			cmocka_unit_test(test_calls_unlimited_still_counted),
			cmocka_unit_test(test_release_never_negative),
			cmocka_unit_test(test_cps_burst_then_refill),
			cmocka_unit_test(test_cps_steady_rate),
			cmocka_unit_test(test_cps_one),
			cmocka_unit_test(test_cps_unlimited_and_limit_change),
			cmocka_unit_test(test_cps_refusal_frees_the_slot),
			cmocka_unit_test(test_rate_windows),
			cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests_name("sbct_limits", tests, NULL, NULL);
}
