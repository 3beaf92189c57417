/*
 * rating_agent module - the durable outbox store in Redis (hiredis)
 *
 * Layout (P = modparam redis_prefix, default "ra"; every SBC node sharing
 * the Redis writes to and drains the same P):
 *   P:q:<tag>   LIST    the call's records, oldest first (RPUSH / LPOP)
 *   P:pending   ZSET    tag -> next attempt time (Unix ms): the calls with
 *                       records waiting; a sender claims those due now
 *   P:claim     HASH    tag -> the sender (node_id:pid) holding the call
 *   P:since     ZSET    tag -> enqueue time (Unix ms) of the call's head
 *                       record: oldest pending age
 *   P:tries     HASH    tag -> failed attempts of the head record (backoff)
 *   P:depth     STRING  number of records waiting
 *   P:once:E:<tag> STRING the node that wrote the call's end record
 *                       (end_guard_ttl > 0): a second end of the same call
 *                       (two nodes saw it end) is not written
 * Enqueue, claim, acknowledge, retry and flush are Lua scripts (atomic).
 * A sender claims a due call by moving its pending time to the end of a
 * lease (outbox_lease_ms) and naming itself in P:claim: no other sender
 * sees the call due before the lease ends, so N senders drain one outbox
 * and a record is sent by one of them at a time. The acknowledgment or
 * the retry releases the claim; a sender that dies holding one loses it
 * when the lease ends, and another sender takes the call over (counted,
 * logged). A record is removed only after the agent took or refused it,
 * and only if it is still the head of its list, so a retry after a crash
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

/* enqueue one record; with once_ttl > 0 only if no record of this kind
 * was enqueued for the call in the last once_ttl s (by any node). 0
 * stored, 1 not stored: one was already, -1 Redis failed */
int ra_redis_put(const char *tag, const char *enc, int len, long long now_ms,
		long long created_ms, char kind, int once_ttl);
/* the sender process names itself (node_id:pid) before claiming */
void ra_redis_owner_init(void);
const char *ra_redis_owner(void);
/* at the sender's start: the calls claimed by this node's previous
 * senders (same node_id, other pid: Kamailio restarted) are due at once
 * instead of at the end of their lease; count or -1 */
int ra_redis_release_own(long long now_ms);
/* how long a claim holds a call (outbox_lease_ms, or the automatic one) */
long long ra_redis_lease_ms(void);

/* claims due calls and returns their head records (at most RA_DUE_MAX;
 * two round trips: the claim, then every head in one pipeline): count, or
 * -1 when Redis is unusable */
int ra_redis_due(ra_due_t *out, int max, long long now_ms, ra_busy_f busy);
/* remove the head record if it is still enc, release the claim; 1 when
 * the call has another record (due now if the claim was still ours), 0
 * when not, -1 on error */
int ra_redis_ack(const char *tag, const char *enc, int len, long long now_ms);
/* count one more failed attempt (attempts: the count seen at claim time),
 * schedule the next one and release the claim; returns the attempts so
 * far (>= 1), -2 when the claim had passed to another sender, or -1 */
int ra_redis_retry(const char *tag, int attempts, long long now_ms);
/* records of this call still in Redis: 1 yes, 0 no, -1 unknown */
int ra_redis_call_pending(const char *tag);
int ra_redis_gauges(long long *depth, long long *calls, long long *oldest_ms);
int ra_redis_list(ra_list_f cb, void *ctx, int max);
int ra_redis_flush(void);

#endif
