/*
 * rating_agent module - the outbox of begin/end/rollback records
 *
 * Records are stored before anything else is done with them and removed
 * only once the agent took them (200 ok:true) or refused them for good
 * (ok:false, 4xx). Per call (transaction_tag) they are kept and sent in
 * order, one at a time. Two stores:
 *  - Redis (modparam redis_url): durable, survives a Kamailio restart;
 *  - shared memory: used without Redis, or for a record Redis could not
 *    take; lost on restart (said at startup and counted).
 * A call whose first record went to shared memory keeps all its records
 * there; a record that follows a Redis one but had to go to shared memory
 * waits until Redis holds nothing more for that call (order kept).
 *
 * This file is part of Kamailio, a free SIP server.
 *
 * Kamailio is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version
 */

#ifndef _RA_OUTBOX_H_
#define _RA_OUTBOX_H_

#include "ra_outbox_rec.h"

/* where a call's records went so far */
#define RA_PIN_NONE 0
#define RA_PIN_REDIS 1
#define RA_PIN_SHM 2

/* a record due for delivery, as handed to the sender (pkg memory) */
typedef struct ra_due {
	char *tag;
	char *enc;
	int len;
	int attempts;	 /* failed deliveries so far */
	int in_redis;	 /* 1: Redis record, 0: shared memory record */
	int after_redis; /* shm record that must wait for the call's Redis ones */
} ra_due_t;

/* most due records one scan hands to the sender */
#define RA_DUE_MAX 64

/* answers "is this call already being sent?" for the due scans */
typedef int (*ra_busy_f)(const char *tag);

/* listing for the RPC: one call per invocation, records in order */
typedef void (*ra_list_f)(void *ctx, const char *store, const char *tag,
		long long next_ms, int attempts, int nrec, const char **enc,
		const int *len);

int ra_outbox_init(void); /* mod_init */
void ra_outbox_destroy(void);

/* Store one record (any process). *pin tells and is updated with where
 * the call's earlier records went. Returns 0, 1 when it was not stored
 * because another node had stored the call's end already (end_guard_ttl),
 * or -1 when it could not be stored anywhere (logged and counted as
 * lost). */
int ra_outbox_put(const ra_rec_t *rec, int *pin);

/* sender wake-up (a byte on a datagram socket pair) */
void ra_outbox_wake(void);
int ra_outbox_wake_fd(void);
void ra_outbox_wake_drain(void);

/* ---- the shared memory store ---- */
int ra_shmq_put(const char *tag, const char *enc, int len, int after_redis,
		long long created_ms);
int ra_shmq_due(ra_due_t *out, int max, long long now_ms, ra_busy_f busy);
/* remove the call's head record; 1 when another record of it is due now */
int ra_shmq_ack(const char *tag);
/* next attempt at next_ms; failed: count one more failure */
void ra_shmq_retry(const char *tag, long long next_ms, int failed);
void ra_shmq_gauges(long long *depth, long long *calls, long long *oldest_ms);
int ra_shmq_list(ra_list_f cb, void *ctx, int max);
void ra_shmq_flush(void);

void ra_due_free(ra_due_t *d);
/* NUL terminated pkg copy of len bytes of s; NULL when out of memory */
char *ra_pkg_dup(const char *s, int len);

#endif
