/*
 * rating_agent module - RPC commands
 *
 *   rating_agent.stats   authorizations by outcome, latency p50/p99,
 *                        fail-policy hits, outbox depth/age/delivered/dropped
 *   rating_agent.outbox  [max]  calls with records waiting, and the records
 *   rating_agent.flush   retry every waiting call now (backoff reset)
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
#include "../../core/rpc.h"
#include "../../core/rpc_lookup.h"

#include "ra_mod.h"
#include "ra_stats.h"
#include "ra_outbox.h"
#include "ra_outbox_redis.h"
#include "ra_json.h"
#include "ra_rpc.h"

static void rpc_stats(rpc_t *rpc, void *ctx)
{
	ra_hist_t h;
	ra_gauges_t g;
	void *th, *ta, *to;
	long long now = ra_now_ms();

	ra_stats_latency(&h);
	ra_gauges_get(&g);
	if(rpc->add(ctx, "{", &th) < 0)
		return;
	if(rpc->struct_add(th, "{", "authorizations", &ta) < 0)
		return;
	rpc->struct_add(ta, "JJJJJJ", "requests",
			(unsigned long long)ra_stat_get(RA_ST_AUTH_REQUESTS), "authorized",
			(unsigned long long)ra_stat_get(RA_ST_AUTH_AUTHORIZED), "denied",
			(unsigned long long)ra_stat_get(RA_ST_AUTH_DENIED), "failopen",
			(unsigned long long)ra_stat_get(RA_ST_AUTH_FAILOPEN), "failclosed",
			(unsigned long long)ra_stat_get(RA_ST_AUTH_FAILCLOSED),
			"abandoned", (unsigned long long)ra_stat_get(RA_ST_AUTH_ABANDONED));
	rpc->struct_add(ta, "JJJJJ", "fail_policy_hits",
			(unsigned long long)(ra_stat_get(RA_ST_AUTH_FAILOPEN)
								 + ra_stat_get(RA_ST_AUTH_FAILCLOSED)),
			"latency_samples", h.count, "latency_p50_ms",
			ra_hist_quantile(&h, 0.5), "latency_p99_ms",
			ra_hist_quantile(&h, 0.99), "latency_max_ms", h.max_ms);
	if(rpc->struct_add(th, "{", "outbox", &to) < 0)
		return;
	rpc->struct_add(to, "sdLLLL", "store",
			ra_redis_enabled() ? "redis" : "shm", "redis_up", g.redis_up,
			"depth", g.depth, "calls", g.calls, "oldest_pending_age_ms",
			g.oldest_ms > 0 ? now - g.oldest_ms : 0LL, "gauges_age_ms",
			g.refreshed_ms > 0 ? now - g.refreshed_ms : -1LL);
	rpc->struct_add(to, "JJJJJJ", "enqueued",
			(unsigned long long)ra_stat_get(RA_ST_OUTBOX_ENQUEUED), "delivered",
			(unsigned long long)ra_stat_get(RA_ST_OUTBOX_DELIVERED), "dropped",
			(unsigned long long)ra_stat_get(RA_ST_OUTBOX_DROPPED), "retries",
			(unsigned long long)ra_stat_get(RA_ST_OUTBOX_RETRIES),
			"stored_in_shm", (unsigned long long)ra_stat_get(RA_ST_OUTBOX_SHM),
			"lost", (unsigned long long)ra_stat_get(RA_ST_OUTBOX_LOST));
	rpc->struct_add(to, "JJJJ", "reclaimed",
			(unsigned long long)ra_stat_get(RA_ST_OUTBOX_RECLAIMED),
			"lease_ms", (unsigned long long)ra_redis_lease_ms(), "end_dups",
			(unsigned long long)ra_stat_get(RA_ST_OUTBOX_END_DUPS),
			"replica_ends",
			(unsigned long long)ra_stat_get(RA_ST_OUTBOX_REPLICA_ENDS));
}

static const char *rpc_stats_doc[] = {
		"Authorization outcomes and latency, outbox depth and delivery", 0};

typedef struct list_ctx {
	rpc_t *rpc;
	void *ctx;
	void *arr;
	long long now;
} list_ctx_t;

static void list_one(void *p, const char *store, const char *tag,
		long long next_ms, int attempts, int nrec, const char **enc,
		const int *len)
{
	list_ctx_t *lc = p;
	rpc_t *rpc = lc->rpc;
	void *th, *tr, *ti;
	ra_rec_t rec;
	char ts[32];
	int i;

	if(rpc->array_add(lc->arr, "{", &th) < 0)
		return;
	rpc->struct_add(th, "ssdL", "store", store, "tag", tag, "attempts",
			attempts, "next_attempt_in_ms",
			next_ms > lc->now ? next_ms - lc->now : 0LL);
	if(rpc->struct_add(th, "[", "records", &tr) < 0)
		return;
	for(i = 0; i < nrec; i++) {
		if(ra_rec_decode(enc[i], len[i], &rec) < 0) {
			rpc->array_add(tr, "s", "<corrupt>");
			continue;
		}
		ra_json_timestamp((time_t)rec.ts, ts, sizeof(ts));
		if(rpc->array_add(tr, "{", &ti) == 0)
			rpc->struct_add(ti, "sssJL", "kind", ra_rec_kind_name(rec.kind),
					"timestamp", ts, "account", rec.account, "seq", rec.seq,
					"age_ms", lc->now - rec.created_ms);
		ra_rec_free(&rec);
	}
}

static void rpc_outbox(rpc_t *rpc, void *ctx)
{
	list_ctx_t lc;
	int max = 100, n = 0;

	if(rpc->scan(ctx, "*d", &max) < 1)
		max = 100;
	if(max <= 0)
		max = 100;
	lc.rpc = rpc;
	lc.ctx = ctx;
	lc.now = ra_now_ms();
	if(rpc->add(ctx, "[", &lc.arr) < 0)
		return;
	if(ra_redis_enabled()) {
		n = ra_redis_list(list_one, &lc, max);
		if(n < 0) {
			rpc->fault(ctx, 500, "redis not reachable");
			return;
		}
	}
	if(n < max)
		ra_shmq_list(list_one, &lc, max - n);
}

static const char *rpc_outbox_doc[] = {
		"Calls with begin/end records waiting for delivery [max calls]", 0};

static void rpc_flush(rpc_t *rpc, void *ctx)
{
	ra_flush_request();
	ra_outbox_wake();
	rpc->rpl_printf(ctx, "Ok. Retrying every waiting call now.");
}

static const char *rpc_flush_doc[] = {
		"Retry every waiting outbox record now (backoff reset)", 0};

static rpc_export_t ra_rpc_cmds[] = {
		{"rating_agent.stats", rpc_stats, rpc_stats_doc, 0},
		{"rating_agent.outbox", rpc_outbox, rpc_outbox_doc, RET_ARRAY},
		{"rating_agent.flush", rpc_flush, rpc_flush_doc, 0},
		{0, 0, 0, 0}};

int ra_rpc_init(void)
{
	if(rpc_register_array(ra_rpc_cmds) != 0) {
		LM_ERR("failed to register RPC commands\n");
		return -1;
	}
	return 0;
}
