/*
 * libFuzzer harness: per-tenant call limits of sbc_tenant
 * (src/modules/sbc_tenant/sbct_limits.c), driven by a script of calls:
 *   n<cap>                          a new empty counter table (1..64 slots)
 *   c<tenant>,<max_calls>,<max_cps>,<dt>
 *                                   dt microseconds later (0..10 s), a new
 *                                   call of the tenant is checked
 *   r<tenant>                       one call of the tenant ends
 *   t<ns>                           the clock jumps to ns (never backwards)
 * Checked against a model of the tenants' calls: a slot per tenant while
 * the table has room (the same slot every time); max_calls never exceeded
 * and a refusal for it only when reached; a refusal for max_cps holds no
 * call; a tenant with no call accepted in the last second is never
 * refused for max_cps; in any interval of length W of a constant max_cps
 * M (<= 10^9), at most M + W / (1 s / M) calls are accepted;
 * a refusal's retry time is exact (one nanosecond earlier is still
 * refused, then it is let through); snapshots report exactly the model's
 * calls, counts and calls accepted in the current and the last second.
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sbct_limits.h"
#include "fuzz_util.h"

#define MAX_CAP 64
#define MAX_HIST 4096 /* calls of a tenant checked (inputs are smaller) */
#define TIME_MAX 4000000000000000000ULL /* below 2^32 seconds */

typedef struct model
{
	uint32_t id;
	sbct_counter_t *c;
	int32_t calls;
	uint64_t accepted, rej_calls, rej_cps;
	int32_t epoch_cps; /* max_cps of the current epoch */
	uint64_t ok[MAX_HIST]; /* times of the calls accepted */
	int nok;
	int epoch_start; /* first entry of ok[] in the current epoch */
} model_t;

static model_t g_m[MAX_CAP];
static int g_n;
static sbct_counters_t *g_t;
static void *g_mem;
static uint32_t g_cap;
static uint64_t g_now;

static void new_table(long long cap)
{
	g_cap = (uint32_t)(cap < 1 ? 1 : cap > MAX_CAP ? MAX_CAP : cap);
	free(g_mem);
	g_mem = malloc(sbct_counters_mem_size(g_cap));
	FUZZ_CHECK(g_mem != NULL, "malloc");
	g_t = sbct_counters_init(g_mem, g_cap);
	FUZZ_CHECK(g_t != NULL && sbct_counters_cap(g_t) == g_cap
					   && sbct_counters_used(g_t) == 0,
			"sbct_counters_init");
	g_n = 0;
}

static model_t *find(uint32_t id)
{
	int i;

	for(i = 0; i < g_n; i++)
		if(g_m[i].id == id)
			return &g_m[i];
	return NULL;
}

/* the tenant's counter, created when there is room */
static model_t *get(uint32_t id)
{
	model_t *m = find(id);
	sbct_counter_t *c = sbct_counter_get(g_t, id, 1);

	if(m) {
		FUZZ_CHECK(c == m->c, "tenant %u moved to another slot", id);
		return m;
	}
	if(g_n == (int)g_cap) {
		FUZZ_CHECK(c == NULL, "slot for tenant %u in a full table", id);
		return NULL;
	}
	FUZZ_CHECK(c != NULL, "no slot for tenant %u (%d of %u used)", id, g_n,
			g_cap);
	FUZZ_CHECK(sbct_counter_get(g_t, id, 0) == c, "lookup without create");
	m = &g_m[g_n++];
	memset(m, 0, sizeof(*m));
	m->id = id;
	m->c = c;
	FUZZ_CHECK(sbct_counters_used(g_t) == (uint32_t)g_n, "used %u != %d",
			sbct_counters_used(g_t), g_n);
	return m;
}

static void check_cps_window(const model_t *m, int32_t max_cps)
{
	uint64_t interval = SBCT_NS_PER_S / (uint64_t)max_cps;
	int i;

	/* calls accepted in [ok[i], now], the one just accepted included */
	for(i = m->epoch_start; i < m->nok; i++)
		FUZZ_CHECK((uint64_t)(m->nok - i)
						   <= (uint64_t)max_cps + (g_now - m->ok[i]) / interval,
				"%d calls in %llu ns at max_cps %d", m->nok - i,
				(unsigned long long)(g_now - m->ok[i]), max_cps);
}

static void check_retry(const model_t *m, int32_t max_cps, uint64_t retry)
{
	sbct_counter_t c;

	FUZZ_CHECK(retry > 0 && retry <= SBCT_NS_PER_S, "retry %llu ns",
			(unsigned long long)retry);
	c = *m->c;
	FUZZ_CHECK(sbct_cps_take(&c, max_cps, g_now + retry - 1, NULL)
					   == SBCT_LIMIT_CPS,
			"let through before its retry time");
	FUZZ_CHECK(sbct_cps_take(&c, max_cps, g_now + retry, NULL)
					   == SBCT_LIMIT_OK,
			"refused at its retry time");
}

static void call(uint32_t id, int32_t max_calls, int32_t max_cps)
{
	model_t *m = get(id);
	uint64_t retry = 0;
	int rc, idle;

	if(m == NULL || m->nok == MAX_HIST)
		return;
	if(max_cps != m->epoch_cps) {
		m->epoch_cps = max_cps;
		m->epoch_start = m->nok;
	}
	idle = m->nok == 0 || g_now - m->ok[m->nok - 1] >= SBCT_NS_PER_S;
	rc = sbct_limits_check(m->c, max_calls, max_cps, g_now, &retry);
	if(max_calls > 0 && m->calls >= max_calls) {
		FUZZ_CHECK(rc == SBCT_LIMIT_CALLS, "call %d of max %d: %d",
				m->calls + 1, max_calls, rc);
		m->rej_calls++;
	} else if(rc == SBCT_LIMIT_CPS) {
		FUZZ_CHECK(max_cps > 0 && !idle, "refused for max_cps %d", max_cps);
		check_retry(m, max_cps, retry);
		m->rej_cps++;
	} else {
		FUZZ_CHECK(rc == SBCT_LIMIT_OK, "check gave %d", rc);
		m->calls++;
		m->accepted++;
		m->ok[m->nok++] = g_now;
		/* above 10^9 calls per second no interval is left to count */
		if(max_cps > 0 && (uint64_t)max_cps <= SBCT_NS_PER_S)
			check_cps_window(m, max_cps);
	}
	FUZZ_CHECK(m->c->calls == m->calls, "calls %d != %d", m->c->calls,
			m->calls);
}

static void release(uint32_t id)
{
	model_t *m = find(id);
	sbct_counter_t *c = sbct_counter_get(g_t, id, 0);

	FUZZ_CHECK(c == (m ? m->c : NULL), "lookup of tenant %u", id);
	if(m == NULL)
		return;
	sbct_calls_release(c);
	if(m->calls > 0)
		m->calls--;
	FUZZ_CHECK(c->calls == m->calls, "release: calls %d != %d", c->calls,
			m->calls);
}

static uint32_t in_second(const model_t *m, uint64_t sec)
{
	uint32_t n = 0;
	int i;

	for(i = 0; i < m->nok; i++)
		n += m->ok[i] / SBCT_NS_PER_S == sec;
	return n;
}

static void check_snapshots(void)
{
	sbct_counter_snap_t s;
	sbct_counter_t *c;
	uint64_t sec = g_now / SBCT_NS_PER_S;
	model_t *m;
	uint32_t i, seen = 0;

	for(i = 0; i < g_cap + 1; i++) {
		c = sbct_counter_at(g_t, i);
		if(c == NULL)
			continue;
		seen++;
		sbct_counter_snapshot(c, g_now, &s);
		m = find(s.tenant_id);
		FUZZ_CHECK(m != NULL && m->c == c, "slot %u: tenant %u", i,
				s.tenant_id);
		FUZZ_CHECK(s.calls == m->calls && s.accepted == m->accepted
						   && s.rejected_calls == m->rej_calls
						   && s.rejected_cps == m->rej_cps,
				"tenant %u counts", m->id);
		/* the history holds every call of the last second */
		FUZZ_CHECK(s.calls_this_second == in_second(m, sec)
						   && (sec == 0
								   || s.calls_last_second
											  == in_second(m, sec - 1)),
				"tenant %u: %u this second (%u), %u the last (%u)", m->id,
				s.calls_this_second, in_second(m, sec), s.calls_last_second,
				sec ? in_second(m, sec - 1) : 0);
	}
	FUZZ_CHECK(seen == (uint32_t)g_n, "%u slots used, %d tenants", seen, g_n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_span_t in = {(const char *)data, size}, l;
	long long v;
	uint32_t id;
	int32_t max_calls, max_cps;

	new_table(4);
	g_now = 1000 * SBCT_NS_PER_S;
	while(fuzz_line(&in, &l)) {
		if(l.len == 0)
			continue;
		l.s++;
		l.len--;
		switch(l.s[-1]) {
			case 'n':
				new_table(fuzz_ll(l));
				break;
			case 'c':
				id = (uint32_t)fuzz_ll(fuzz_field(&l, ','));
				max_calls = (int32_t)fuzz_ll(fuzz_field(&l, ','));
				max_cps = (int32_t)fuzz_ll(fuzz_field(&l, ','));
				v = fuzz_ll(fuzz_field(&l, ','));
				g_now += 1000ULL * (uint64_t)(v < 0 ? 0 : v > 10000000 ? 10000000 : v);
				if(g_now > TIME_MAX)
					g_now = TIME_MAX;
				call(id, max_calls, max_cps);
				break;
			case 'r':
				release((uint32_t)fuzz_ll(l));
				break;
			case 't':
				v = fuzz_ll(l);
				if(v > 0 && (uint64_t)v > g_now)
					g_now = (uint64_t)v > TIME_MAX ? TIME_MAX : (uint64_t)v;
				break;
		}
		check_snapshots();
	}
	return 0;
}
