/*
 * rating_agent module - counters, latency histogram and outbox gauges
 *
 * Counts are Kamailio statistics (per process, summed when read: no lock on
 * the hot path). The latency histogram and the outbox gauges live in one
 * shared memory block under a lock; the gauges are refreshed by the outbox
 * sender process.
 *
 * This file is part of Kamailio, a free SIP server.
 *
 * Kamailio is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version
 */

#ifndef _RA_STATS_H_
#define _RA_STATS_H_

#include "../../core/counters.h"
#include "ra_decide.h"
#include "ra_hist.h"

typedef enum ra_stat {
	RA_ST_AUTH_REQUESTS = 0,
	RA_ST_AUTH_AUTHORIZED,
	RA_ST_AUTH_DENIED,
	RA_ST_AUTH_FAILOPEN,
	RA_ST_AUTH_FAILCLOSED,
	RA_ST_AUTH_ABANDONED, /* result came after the transaction was gone */
	RA_ST_OUTBOX_ENQUEUED,
	RA_ST_OUTBOX_DELIVERED,
	RA_ST_OUTBOX_DROPPED,  /* definite refusal (ok:false, 4xx, corrupt) */
	RA_ST_OUTBOX_RETRIES,
	RA_ST_OUTBOX_SHM,	  /* stored in shared memory (no/failed Redis) */
	RA_ST_OUTBOX_LOST,	  /* could not be stored at all */
	RA_ST_OUTBOX_RECLAIMED, /* taken over after another sender's lease */
	RA_ST_OUTBOX_END_DUPS,	/* end not written: another node wrote it */
	RA_ST_OUTBOX_REPLICA_ENDS, /* ends of other nodes' calls written here */
	RA_ST_COUNT
} ra_stat_t;

/* outbox gauges as last seen by the sender */
typedef struct ra_gauges {
	long long depth;		 /* records waiting */
	long long calls;		 /* calls with records waiting */
	long long oldest_ms;	 /* enqueue time of the oldest waiting call, 0 */
	int redis_up;			 /* -1: no Redis configured */
	long long refreshed_ms; /* when these were taken */
} ra_gauges_t;

int ra_stats_init(void); /* mod_init */
void ra_stats_destroy(void);

void ra_stat_inc(ra_stat_t s);
unsigned long ra_stat_get(ra_stat_t s);
const char *ra_stat_name(ra_stat_t s);

/* one finished authorization: outcome counter + latency */
void ra_stats_auth(ra_outcome_kind_t k, long long latency_ms);
void ra_stats_latency(ra_hist_t *copy);

void ra_gauges_set(const ra_gauges_t *g);
void ra_gauges_get(ra_gauges_t *g);

/* unique increasing record sequence (seeded from the clock at start) */
unsigned long long ra_next_seq(void);

/* sender wake-up requests (flush) */
void ra_flush_request(void);
int ra_flush_take(void);

#endif
