/*
 * rating_agent module - the outbox sender process
 *
 * One process delivers every begin/end/rollback record: per call only the
 * head record is ever in flight (order kept), many calls in parallel.
 * 2xx {"ok":true} removes a record; {"ok":false} and 4xx are definite
 * refusals (the record is dropped, logged and counted); anything else
 * (timeout, refused connection, 5xx, an unreadable 2xx body) is retried
 * with exponential backoff between retry_min_ms and retry_max_ms.
 *
 * This file is part of Kamailio, a free SIP server.
 *
 * Kamailio is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/dprint.h"
#include "../../core/mem/mem.h"
#include "../../core/rand/kam_rand.h"

#include "ra_mod.h"
#include "ra_http.h"
#include "ra_json.h"
#include "ra_stats.h"
#include "ra_outbox.h"
#include "ra_outbox_redis.h"
#include "ra_sender.h"

#define RA_SENDER_IDLE_MS 500
#define RA_GAUGES_EVERY_MS 1000

typedef struct ra_flight {
	ra_due_t d;
	ra_rec_t rec;
	int used;
} ra_flight_t;

static ra_flight_t *ra_fl = NULL;
static int ra_fl_max = 0;
/* Something may have become due (a record enqueued, a call's next record
 * after a delivery, a flush): look at the stores on the next turn;
 * otherwise only every RA_SENDER_IDLE_MS (retries whose backoff ran out,
 * calls whose lease ran out). A scan costs Redis round trips: not on every
 * socket event. */
static int ra_rescan = 1;
/* the last scan found at least as many due calls as free slots */
static int ra_fill_full = 0;

static int busy(const char *tag)
{
	int i;

	for(i = 0; i < ra_fl_max; i++) {
		if(ra_fl[i].used && strcmp(ra_fl[i].d.tag, tag) == 0)
			return 1;
	}
	return 0;
}

static ra_flight_t *slot_get(void)
{
	int i;

	for(i = 0; i < ra_fl_max; i++) {
		if(!ra_fl[i].used)
			return &ra_fl[i];
	}
	return NULL;
}

static void slot_put(ra_flight_t *f)
{
	ra_rec_free(&f->rec);
	ra_due_free(&f->d);
	f->used = 0;
}

/* 1 when the call's next record is due now */
static int remove_head(ra_flight_t *f)
{
	int more;

	if(!f->d.in_redis)
		return ra_shmq_ack(f->d.tag);
	/* if Redis is gone now the record is sent again later: the agent sees
	 * the same tag and timestamps (idempotent) */
	more = ra_redis_ack(f->d.tag, f->d.enc, f->d.len, ra_now_ms());
	if(more < 0)
		LM_WARN("could not remove the delivered %s record of Call-ID %s "
				"from redis: it will be sent again\n",
				ra_rec_kind_name(f->rec.kind), f->d.tag);
	return more > 0;
}

/* count_it 0: not a failure, only "not yet" (a shm record waiting for the
 * call's Redis records): retry soon, no backoff step */
static void schedule_retry(ra_flight_t *f, int count_it)
{
	long long now = ra_now_ms();

	if(!count_it) {
		ra_shmq_retry(f->d.tag, now + ra_set.retry_min_ms, 0);
		return;
	}
	ra_stat_inc(RA_ST_OUTBOX_RETRIES);
	if(f->d.in_redis) {
		ra_redis_retry(f->d.tag, f->d.attempts, now);
		return;
	}
	ra_shmq_retry(f->d.tag,
			now
					+ ra_backoff_ms(f->d.attempts + 1, ra_set.retry_min_ms,
							ra_set.retry_max_ms,
							(unsigned int)(kam_rand() % 1001)),
			1);
}

static void log_retry(ra_flight_t *f, long status, const char *err)
{
	char why[RA_ERR_LEN + 32];
	int a = f->d.attempts + 1;

	if(status)
		snprintf(why, sizeof(why), "http %ld%s%s", status, err ? " " : "",
				err ? err : "");
	else
		snprintf(why, sizeof(why), "%s", err ? err : "no answer");
	/* first failure and then every 10th: an outage must not flood the log */
	if(a == 1 || a % 10 == 0)
		LM_WARN("%s of Call-ID %s not delivered (attempt %d): %s\n",
				ra_rec_kind_name(f->rec.kind), f->d.tag, a, why);
}

static void on_done(
		void *arg, long status, const char *body, size_t len, const char *err)
{
	ra_flight_t *f = arg;
	char perr[RA_ERR_LEN];
	int ok = 0, more = 0;

	if(status >= 200 && status < 300) {
		if(ra_json_parse_ack(body, len, &ok, perr, sizeof(perr)) < 0) {
			log_retry(f, status, perr);
			schedule_retry(f, 1);
		} else if(ok) {
			LM_DBG("%s of Call-ID %s delivered\n",
					ra_rec_kind_name(f->rec.kind), f->d.tag);
			more = remove_head(f);
			ra_stat_inc(RA_ST_OUTBOX_DELIVERED);
		} else {
			LM_ERR("agent refused the %s of Call-ID %s (ok:false, ts %lld): "
				   "dropped\n",
					ra_rec_kind_name(f->rec.kind), f->d.tag, f->rec.ts);
			more = remove_head(f);
			ra_stat_inc(RA_ST_OUTBOX_DROPPED);
		}
	} else if(status >= 400 && status < 500) {
		LM_ERR("agent refused the %s of Call-ID %s with http %ld: dropped "
			   "[%.*s]\n",
				ra_rec_kind_name(f->rec.kind), f->d.tag, status,
				(int)(len > 200 ? 200 : len), body);
		more = remove_head(f);
		ra_stat_inc(RA_ST_OUTBOX_DROPPED);
	} else {
		log_retry(f, status, err);
		schedule_retry(f, 1);
	}
	slot_put(f);
	/* the call's next record, or calls the last scan had no slot for */
	if(more || ra_fill_full)
		ra_rescan = 1;
}

/* a shm record following Redis ones waits for them (order per call) */
static int must_wait(ra_flight_t *f)
{
	if(!f->d.after_redis)
		return 0;
	return ra_redis_call_pending(f->d.tag) != 0;
}

static void start(ra_flight_t *f)
{
	ra_req_fields_t rf;
	char *body;

	f->used = 1;
	if(ra_rec_decode(f->d.enc, f->d.len, &f->rec) < 0) {
		LM_ERR("corrupt outbox record dropped (Call-ID %s): [%.*s]\n",
				f->d.tag, f->d.len > 200 ? 200 : f->d.len, f->d.enc);
		remove_head(f);
		ra_stat_inc(RA_ST_OUTBOX_DROPPED);
		slot_put(f);
		return;
	}
	if(must_wait(f)) {
		schedule_retry(f, 0);
		slot_put(f);
		return;
	}
	ra_rec_req_fields(&f->rec, &rf);
	body = ra_json_build_request(
			ra_rec_req_kind(&f->rec), &rf, (time_t)f->rec.ts);
	if(body == NULL
			|| ra_http_post(ra_rec_path(f->rec.kind), body, strlen(body),
					   ra_set.outbox_timeout_ms, on_done, f)
					   < 0) {
		LM_ERR("cannot send %s of Call-ID %s now\n",
				ra_rec_kind_name(f->rec.kind), f->d.tag);
		schedule_retry(f, 1);
		slot_put(f);
	}
	free(body);
}

static void fill(void)
{
	ra_due_t due[RA_DUE_MAX];
	ra_flight_t *f;
	int free_slots, n = 0, i, r;
	long long now = ra_now_ms();

	free_slots = ra_fl_max - ra_http_inflight();
	if(free_slots <= 0) {
		ra_fill_full = 1;
		return;
	}
	if(free_slots > RA_DUE_MAX)
		free_slots = RA_DUE_MAX;
	if(ra_redis_enabled()) {
		r = ra_redis_due(due, free_slots, now, busy);
		if(r > 0)
			n = r;
	}
	if(n < free_slots)
		n += ra_shmq_due(due + n, free_slots - n, now, busy);
	ra_fill_full = n >= free_slots;
	for(i = 0; i < n; i++) {
		f = slot_get();
		if(f == NULL) {
			ra_due_free(&due[i]);
			continue;
		}
		f->d = due[i];
		start(f);
	}
}

static void refresh_gauges(void)
{
	/* Redis' figures as last read: while Redis cannot be reached the
	 * records are still there (redis_up 0 says the figures are old) */
	static long long rd = 0, rc = 0, ro = 0;
	ra_gauges_t g;
	long long d = 0, c = 0, o = 0;

	memset(&g, 0, sizeof(g));
	g.redis_up = -1;
	if(ra_redis_enabled()) {
		g.redis_up = ra_redis_gauges(&d, &c, &o) == 0;
		if(g.redis_up) {
			rd = d;
			rc = c;
			ro = o;
		}
		g.depth = rd;
		g.calls = rc;
		g.oldest_ms = ro;
		d = c = o = 0;
	}
	ra_shmq_gauges(&d, &c, &o);
	g.depth += d;
	g.calls += c;
	if(o > 0 && (g.oldest_ms == 0 || o < g.oldest_ms))
		g.oldest_ms = o;
	g.refreshed_ms = ra_now_ms();
	ra_gauges_set(&g);
}

void ra_sender_main(void)
{
	long long next_gauges = 0, next_scan = 0, now, wait;
	int wake_fd = ra_outbox_wake_fd();

	ra_fl_max = ra_set.outbox_max_inflight;
	ra_fl = pkg_malloc(sizeof(*ra_fl) * ra_fl_max);
	if(ra_fl == NULL || ra_http_init() < 0) {
		LM_CRIT("outbox sender cannot start: records are not delivered\n");
		return;
	}
	memset(ra_fl, 0, sizeof(*ra_fl) * ra_fl_max);
	ra_redis_owner_init();
	if(ra_redis_enabled())
		ra_redis_release_own(ra_now_ms());
	LM_INFO("outbox sender %s started (max %d in flight, lease %lld ms)\n",
			ra_redis_owner(), ra_fl_max, ra_redis_lease_ms());
	for(;;) {
		if(ra_flush_take()) {
			LM_INFO("outbox flush: retrying every waiting call now\n");
			if(ra_redis_enabled())
				ra_redis_flush();
			ra_shmq_flush();
			ra_rescan = 1;
		}
		now = ra_mono_ms();
		if(ra_rescan || now >= next_scan) {
			ra_rescan = 0;
			fill();
			next_scan = now + RA_SENDER_IDLE_MS;
		}
		if(now >= next_gauges) {
			refresh_gauges();
			next_gauges = now + RA_GAUGES_EVERY_MS;
		}
		wait = (next_scan < next_gauges ? next_scan : next_gauges) - now;
		if(ra_http_run(wake_fd, wait > 0 ? (int)wait : 0) > 0) {
			ra_outbox_wake_drain();
			ra_rescan = 1;
		}
	}
}
