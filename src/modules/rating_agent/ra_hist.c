/*
 * rating_agent module - latency histogram (p50/p99)
 *
 * This file is part of Kamailio, a free SIP server.
 *
 * Kamailio is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version
 */

#include "ra_hist.h"

/* the last bucket is open ended */
static const unsigned long long bounds[RA_HIST_BUCKETS] = {1, 2, 3, 5, 7,
		10, 15, 20, 30, 50, 70, 100, 150, 200, 300, 500, 700, 1000, 1500,
		2000, 3000, 5000, 10000, 60000};

unsigned long long ra_hist_bound(int i)
{
	if(i < 0)
		return 0;
	if(i >= RA_HIST_BUCKETS)
		i = RA_HIST_BUCKETS - 1;
	return bounds[i];
}

void ra_hist_add(ra_hist_t *h, unsigned long long ms)
{
	int i;

	for(i = 0; i < RA_HIST_BUCKETS - 1 && ms > bounds[i]; i++)
		;
	h->b[i]++;
	h->count++;
	h->sum_ms += ms;
	if(ms > h->max_ms)
		h->max_ms = ms;
}

unsigned long long ra_hist_quantile(const ra_hist_t *h, double q)
{
	unsigned long long rank, seen = 0;
	int i;

	if(h->count == 0)
		return 0;
	if(q <= 0)
		q = 0.000001;
	if(q > 1)
		q = 1;
	/* smallest bucket whose cumulative count reaches ceil(q * count) */
	rank = (unsigned long long)(q * (double)h->count);
	if((double)rank < q * (double)h->count)
		rank++;
	if(rank == 0)
		rank = 1;
	for(i = 0; i < RA_HIST_BUCKETS; i++) {
		seen += h->b[i];
		if(seen >= rank)
			break;
	}
	if(i >= RA_HIST_BUCKETS - 1)
		return h->max_ms;
	/* a bucket bound is never above what was actually seen */
	return bounds[i] < h->max_ms ? bounds[i] : h->max_ms;
}
