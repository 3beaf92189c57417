/*
 * rating_agent module - the durable outbox store in Redis (hiredis)
 *
 * Layout (P = modparam redis_prefix, default "ra"; one sender per P):
 *   P:q:<tag>   LIST    the call's records, oldest first (RPUSH / LPOP)
 *   P:pending   ZSET    tag -> next attempt time (Unix ms): the calls with
 *                       records waiting; the sender takes those due now
 *   P:since     ZSET    tag -> enqueue time (Unix ms) of the call's head
 *                       record: oldest pending age
 *   P:tries     HASH    tag -> failed attempts of the head record (backoff)
 *   P:depth     STRING  number of records waiting
 * Enqueue, acknowledge and flush are Lua scripts (atomic). A record is
 * removed only by the sender, after the agent took or refused it, and
 * only if it is still the head of its list, so a retry after a crash
 * repeats the same bytes (same tag, same timestamps).
 *
 * Each process has its own connection, opened on first use; after a
 * failure it is not retried for a second so that SIP workers never stall
 * on a dead Redis.
 *
 * This file is part of Kamailio, a free SIP server.
 *
 * Kamailio is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version
 */

#ifndef _RA_OUTBOX_REDIS_H_
#define _RA_OUTBOX_REDIS_H_

#include "ra_outbox.h"

/* parse modparam redis_url, in mod_init; 0 or -1 */
int ra_redis_config(void);
int ra_redis_enabled(void);
/* 1 if this process has a working connection (tries to open one) */
int ra_redis_up(void);
void ra_redis_close(void);

int ra_redis_put(const char *tag, const char *enc, int len, long long now_ms,
		long long created_ms);
/* due records: count, or -1 when Redis is unusable */
int ra_redis_due(ra_due_t *out, int max, long long now_ms, ra_busy_f busy);
/* remove the head record if it is still enc; 0 or -1 */
int ra_redis_ack(const char *tag, const char *enc, int len, long long now_ms);
/* count one failure and schedule the next attempt; returns the attempts
 * so far (>= 1) or -1 */
int ra_redis_retry(const char *tag, long long now_ms);
/* records of this call still in Redis: 1 yes, 0 no, -1 unknown */
int ra_redis_call_pending(const char *tag);
int ra_redis_gauges(long long *depth, long long *calls, long long *oldest_ms);
int ra_redis_list(ra_list_f cb, void *ctx, int max);
int ra_redis_flush(void);

#endif
