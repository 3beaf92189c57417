/*
 * micro-benchmark of the sbc_tenant DID index: build time and lookups/s on
 * 1,000,000 DIDs (900k exact numbers, 100k prefixes), one core. Lookup
 * rates are per second of the thread's CPU time (per core, whatever else
 * the machine runs).
 * Usage: bench_sbct_index [n_dids] [n_lookups]
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sbct_index.h"
#include "unit_util.h"

static void *b_alloc(size_t size, void *ctx)
{
	(void)ctx;
	return malloc(size);
}

static void b_free(void *p, void *ctx)
{
	(void)ctx;
	free(p);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rng(void)
{
	return xorshift64(&rng_state);
}

#define DID_LEN 16 /* stored as fixed width records */

/* chained: the next DID's position depends on this lookup's result (the
 * shift is 0 for every real tenant id), so lookups cannot overlap in the
 * CPU: one after the other, as in a SIP worker. Otherwise the CPU runs
 * several independent lookups at once (throughput). */
static double run_once(const sbct_index_t *idx, const char *dids, uint32_t n,
		uint32_t loops, int expect, int chained, uint32_t *bad, long *sum)
{
	sbct_result_t r;
	uint32_t i, j, dep = 0;
	double t0;

	t0 = cpu_s();
	for(j = 0; j < loops; j++) {
		for(i = 0; i < n; i++) {
			const char *d = dids + (size_t)((i + dep) % n) * DID_LEN;
			int rc = sbct_lookup(idx, d, strlen(d), &r);
			if(chained)
				dep = r.tenant_id >> 31;
			*sum += r.gateway_group;
			if(rc != expect)
				(*bad)++;
		}
	}
	return (double)n * loops / (cpu_s() - t0);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* the machine is shared: report the median and the best of ROUNDS */
#define ROUNDS 5
static void run(const sbct_index_t *idx, const char *dids, uint32_t n,
		uint32_t loops, int expect, const char *what)
{
	double rate[ROUNDS];
	uint32_t bad = 0;
	long sum = 0;
	int k;

	int chained;

	for(chained = 0; chained < 2; chained++) {
		for(k = 0; k < ROUNDS; k++)
			rate[k] = run_once(
					idx, dids, n, loops, expect, chained, &bad, &sum);
		qsort(rate, ROUNDS, sizeof(double), cmp_double);
		printf("%-26s %-11s median %9.0f lookups/s, best %9.0f  (%d x %u "
			   "lookups, %u unexpected, chk %ld)\n",
				what, chained ? "one by one" : "overlapped", rate[ROUNDS / 2],
				rate[ROUNDS - 1], ROUNDS, n * loops, bad, sum);
	}
}

int main(int argc, char **argv)
{
	sbct_alloc_t a = {b_alloc, b_free, NULL};
	uint32_t n = argc > 1 ? (uint32_t)atoi(argv[1]) : 1000000;
	uint32_t nl = argc > 2 ? (uint32_t)atoi(argv[2]) : 5000000;
	sbct_builder_t *b;
	sbct_index_t *idx;
	sbct_build_stats_t st;
	sbct_tenant_row_t t;
	sbct_did_row_t r;
	char buf[40];
	char *exact, *viapfx, *miss;
	uint32_t i, ne = 0, np = 0, nm = 0, q = n / 10 * 9;
	double t0, t1;

	exact = calloc(q, DID_LEN);
	viapfx = calloc(q, DID_LEN);
	miss = calloc(q, DID_LEN);
	if(!exact || !viapfx || !miss)
		return 1;

	t0 = now_s();
	b = sbct_builder_new(&a);
	for(i = 1; i <= 1000; i++) {
		memset(&t, 0, sizeof(t));
		snprintf(buf, sizeof(buf), "tenant-%u", i);
		t.id = i;
		t.name = buf;
		t.name_len = strlen(buf);
		t.gateway_group = (int32_t)i;
		t.enabled = 1;
		sbct_builder_add_tenant(b, &t);
	}
	for(i = 0; i < n; i++) {
		memset(&r, 0, sizeof(r));
		r.id = i + 1;
		r.tenant_id = 1 + i % 1000;
		r.did = buf;
		if(i % 10 == 9) {
			/* prefixes 3xxxxx* (6 digits + '*') */
			r.did_len = (size_t)snprintf(buf, sizeof(buf), "3%05u*", (i / 10) % 100000);
			if(nm < q)
				snprintf(viapfx + (size_t)nm++ * DID_LEN, DID_LEN, "+3%05u%04u",
						(i / 10) % 100000, i % 10000);
		} else {
			r.did_len = (size_t)snprintf(buf, sizeof(buf), "49%010llu",
					(unsigned long long)(rng() % 10000000000ULL));
			memcpy(exact + (size_t)ne++ * DID_LEN, buf, r.did_len + 1);
		}
		sbct_builder_add_did(b, &r);
	}
	idx = sbct_builder_finish(b, &st);
	sbct_builder_free(b);
	t1 = now_s();
	if(idx == NULL) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	printf("built %u DIDs (%u exact, %u prefixes) in %.3f s; block %zu bytes, "
		   "%.1f bytes/DID beyond strings\n",
			st.dids, st.exact, st.prefixes, t1 - t0, st.block_size,
			(double)(st.block_size - st.string_bytes) / (st.dids ? st.dids : 1));

	/* shuffle the exact list so lookups hit the table at random */
	for(i = ne; i > 1; i--) {
		uint32_t j = (uint32_t)(rng() % i);
		char tmp[DID_LEN];
		memcpy(tmp, exact + (size_t)(i - 1) * DID_LEN, DID_LEN);
		memcpy(exact + (size_t)(i - 1) * DID_LEN, exact + (size_t)j * DID_LEN,
				DID_LEN);
		memcpy(exact + (size_t)j * DID_LEN, tmp, DID_LEN);
	}
	for(i = 0; i < q; i++)
		snprintf(miss + (size_t)i * DID_LEN, DID_LEN, "8%011llu",
				(unsigned long long)(rng() % 100000000000ULL));
	np = nm;

	run(idx, exact, ne, (nl + ne - 1) / ne, SBCT_EXACT, "exact hit (random)");
	run(idx, viapfx, np, (nl + np - 1) / np, SBCT_PREFIX, "prefix hit (exact miss)");
	run(idx, miss, q, (nl + q - 1) / q, SBCT_NOT_FOUND, "not found");

	sbct_index_free(idx, &a);
	free(exact);
	free(viapfx);
	free(miss);
	return 0;
}
