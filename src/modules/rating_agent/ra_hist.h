/*
 * rating_agent module - latency histogram (p50/p99)
 *
 * Pure C, no Kamailio headers, no locking: the caller keeps it in shared
 * memory under its own lock. Buckets are 1, 2, 3, 5, 7, 10, ... ms
 * (about 4 per decade up to 60 s): a percentile is reported as the upper
 * bound of its bucket, good to about 40%, which is what p50/p99 of an
 * authorization round trip needs.
 *
 * This file is part of Kamailio, a free SIP server.
 *
 * Kamailio is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version
 */

#ifndef _RA_HIST_H_
#define _RA_HIST_H_

#define RA_HIST_BUCKETS 24

typedef struct ra_hist {
	unsigned long long count;
	unsigned long long sum_ms;
	unsigned long long max_ms;
	unsigned long long b[RA_HIST_BUCKETS];
} ra_hist_t;

void ra_hist_add(ra_hist_t *h, unsigned long long ms);

/* upper bound (ms) of the bucket holding the q-th quantile (0 < q <= 1);
 * 0 when empty; the last bucket reports the maximum seen */
unsigned long long ra_hist_quantile(const ra_hist_t *h, double q);

/* upper bound of bucket i, in ms */
unsigned long long ra_hist_bound(int i);

#endif
