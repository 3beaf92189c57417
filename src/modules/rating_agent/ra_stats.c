/*
 * rating_agent module - counters, latency histogram and outbox gauges
 *
 * This file is part of Kamailio, a free SIP server.
 *
 * Kamailio is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version
 */

#include <string.h>

#include "../../core/dprint.h"
#include "../../core/locking.h"
#include "../../core/mem/shm_mem.h"

#include "ra_mod.h"
#include "ra_stats.h"

typedef struct ra_shared {
	gen_lock_t lock;
	ra_hist_t latency;
	ra_gauges_t gauges;
	unsigned long long seq;
	int flush;
} ra_shared_t;

static ra_shared_t *ra_sh = NULL;
static stat_var *ra_stat_vars[RA_ST_COUNT];

static const char *ra_stat_names[RA_ST_COUNT] = {"auth_requests",
		"auth_authorized", "auth_denied", "auth_failopen", "auth_failclosed",
		"auth_abandoned", "outbox_enqueued", "outbox_delivered",
		"outbox_dropped", "outbox_retries", "outbox_shm", "outbox_lost",
		"outbox_reclaimed", "outbox_end_dups", "outbox_replica_ends"};

static counter_val_t gauge_depth(void);
static counter_val_t gauge_oldest_age(void);
static counter_val_t gauge_p50(void);
static counter_val_t gauge_p99(void);

/* names must stay valid for the life of the process */
static stat_export_t ra_stat_exports[RA_ST_COUNT + 5];

int ra_stats_init(void)
{
	int i;

	ra_sh = shm_malloc(sizeof(*ra_sh));
	if(ra_sh == NULL) {
		SHM_MEM_ERROR;
		return -1;
	}
	memset(ra_sh, 0, sizeof(*ra_sh));
	if(lock_init(&ra_sh->lock) == NULL) {
		LM_ERR("cannot init the stats lock\n");
		return -1;
	}
	ra_sh->seq = (unsigned long long)ra_now_ms() * 1000ULL;
	ra_sh->gauges.redis_up = -1;

	for(i = 0; i < RA_ST_COUNT; i++) {
		ra_stat_exports[i].name = (char *)ra_stat_names[i];
		ra_stat_exports[i].flags = STAT_NO_RESET;
		ra_stat_exports[i].stat_pointer = &ra_stat_vars[i];
	}
	ra_stat_exports[i].name = "outbox_depth";
	ra_stat_exports[i].flags = STAT_IS_FUNC;
	ra_stat_exports[i++].stat_pointer = (stat_var **)gauge_depth;
	ra_stat_exports[i].name = "outbox_oldest_age_s";
	ra_stat_exports[i].flags = STAT_IS_FUNC;
	ra_stat_exports[i++].stat_pointer = (stat_var **)gauge_oldest_age;
	ra_stat_exports[i].name = "auth_latency_p50_ms";
	ra_stat_exports[i].flags = STAT_IS_FUNC;
	ra_stat_exports[i++].stat_pointer = (stat_var **)gauge_p50;
	ra_stat_exports[i].name = "auth_latency_p99_ms";
	ra_stat_exports[i].flags = STAT_IS_FUNC;
	ra_stat_exports[i++].stat_pointer = (stat_var **)gauge_p99;
	ra_stat_exports[i].name = NULL;
	if(register_module_stats("rating_agent", ra_stat_exports) != 0) {
		LM_ERR("failed to register statistics\n");
		return -1;
	}
	return 0;
}

void ra_stats_destroy(void)
{
	if(ra_sh) {
		lock_destroy(&ra_sh->lock);
		shm_free(ra_sh);
		ra_sh = NULL;
	}
}

void ra_stat_inc(ra_stat_t s)
{
	if(s >= 0 && s < RA_ST_COUNT)
		update_stat(ra_stat_vars[s], 1);
}

unsigned long ra_stat_get(ra_stat_t s)
{
	if(s < 0 || s >= RA_ST_COUNT)
		return 0;
	return get_stat_val(ra_stat_vars[s]);
}

const char *ra_stat_name(ra_stat_t s)
{
	return (s >= 0 && s < RA_ST_COUNT) ? ra_stat_names[s] : "unknown";
}

void ra_stats_auth(ra_outcome_kind_t k, long long latency_ms)
{
	static const ra_stat_t by_kind[RA_OUT_KINDS] = {RA_ST_AUTH_AUTHORIZED,
			RA_ST_AUTH_DENIED, RA_ST_AUTH_FAILOPEN, RA_ST_AUTH_FAILCLOSED};

	if(k >= 0 && k < RA_OUT_KINDS)
		ra_stat_inc(by_kind[k]);
	if(latency_ms < 0)
		return;
	lock_get(&ra_sh->lock);
	ra_hist_add(&ra_sh->latency, (unsigned long long)latency_ms);
	lock_release(&ra_sh->lock);
}

void ra_stats_latency(ra_hist_t *copy)
{
	lock_get(&ra_sh->lock);
	*copy = ra_sh->latency;
	lock_release(&ra_sh->lock);
}

void ra_gauges_set(const ra_gauges_t *g)
{
	lock_get(&ra_sh->lock);
	ra_sh->gauges = *g;
	lock_release(&ra_sh->lock);
}

void ra_gauges_get(ra_gauges_t *g)
{
	lock_get(&ra_sh->lock);
	*g = ra_sh->gauges;
	lock_release(&ra_sh->lock);
}

unsigned long long ra_next_seq(void)
{
	unsigned long long s;

	lock_get(&ra_sh->lock);
	s = ++ra_sh->seq;
	lock_release(&ra_sh->lock);
	return s;
}

void ra_flush_request(void)
{
	lock_get(&ra_sh->lock);
	ra_sh->flush = 1;
	lock_release(&ra_sh->lock);
}

int ra_flush_take(void)
{
	int f;

	lock_get(&ra_sh->lock);
	f = ra_sh->flush;
	ra_sh->flush = 0;
	lock_release(&ra_sh->lock);
	return f;
}

static counter_val_t gauge_depth(void)
{
	ra_gauges_t g;

	ra_gauges_get(&g);
	return (counter_val_t)g.depth;
}

static counter_val_t gauge_oldest_age(void)
{
	ra_gauges_t g;

	ra_gauges_get(&g);
	if(g.oldest_ms <= 0)
		return 0;
	return (counter_val_t)((ra_now_ms() - g.oldest_ms) / 1000);
}

static counter_val_t gauge_p50(void)
{
	ra_hist_t h;

	ra_stats_latency(&h);
	return (counter_val_t)ra_hist_quantile(&h, 0.5);
}

static counter_val_t gauge_p99(void)
{
	ra_hist_t h;

	ra_stats_latency(&h);
	return (counter_val_t)ra_hist_quantile(&h, 0.99);
}
