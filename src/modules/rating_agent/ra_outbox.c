/*
 * rating_agent module - the outbox: record routing and the shm store
 *
 * This file is part of Kamailio, a free SIP server.
 *
 * Kamailio is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version
 */

#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/socket.h>

#include "../../core/dprint.h"
#include "../../core/locking.h"
#include "../../core/hashes.h"
#include "../../core/mem/mem.h"
#include "../../core/mem/shm_mem.h"

#include "ra_mod.h"
#include "ra_stats.h"
#include "ra_outbox.h"
#include "ra_outbox_redis.h"

#define RA_SHMQ_HSIZE 1024

typedef struct ra_shm_rec {
	struct ra_shm_rec *next;
	int after_redis;
	long long created_ms;
	int len;
	char enc[1];
} ra_shm_rec_t;

/* one call with records waiting, in arrival order of calls */
typedef struct ra_shm_call {
	struct ra_shm_call *prev, *next; /* arrival list */
	struct ra_shm_call *hnext;		 /* hash chain */
	unsigned int hid;
	int attempts;
	long long next_ms;
	ra_shm_rec_t *head, *tail;
	char tag[1];
} ra_shm_call_t;

typedef struct ra_shmq {
	gen_lock_t lock;
	ra_shm_call_t *first, *last;
	ra_shm_call_t *hash[RA_SHMQ_HSIZE];
	long long depth;
	long long calls;
} ra_shmq_t;

static ra_shmq_t *ra_q = NULL;
static int ra_wake[2] = {-1, -1};

int ra_outbox_init(void)
{
	int i;

	ra_q = shm_malloc(sizeof(*ra_q));
	if(ra_q == NULL) {
		SHM_MEM_ERROR;
		return -1;
	}
	memset(ra_q, 0, sizeof(*ra_q));
	if(lock_init(&ra_q->lock) == NULL) {
		LM_ERR("cannot init the outbox lock\n");
		return -1;
	}
	if(socketpair(AF_UNIX, SOCK_DGRAM, 0, ra_wake) < 0) {
		LM_ERR("socketpair failed: %s\n", strerror(errno));
		return -1;
	}
	for(i = 0; i < 2; i++)
		fcntl(ra_wake[i], F_SETFL, fcntl(ra_wake[i], F_GETFL) | O_NONBLOCK);
	if(ra_set.redis_url.len <= 0)
		LM_WARN("no redis_url: begin/end records are kept in shared memory "
				"only and can be lost on a restart\n");
	return 0;
}

void ra_outbox_destroy(void)
{
	if(ra_q) {
		lock_destroy(&ra_q->lock);
		/* records still here are lost: say how many */
		if(ra_q->depth > 0)
			LM_WARN("%lld outbox records in shared memory lost at shutdown\n",
					ra_q->depth);
		shm_free(ra_q);
		ra_q = NULL;
	}
}

void ra_outbox_wake(void)
{
	char c = 'w';

	/* a full socket already means a wake-up is pending */
	if(send(ra_wake[1], &c, 1, MSG_DONTWAIT) < 0 && errno != EAGAIN
			&& errno != EWOULDBLOCK)
		LM_DBG("wake-up not sent: %s\n", strerror(errno));
}

int ra_outbox_wake_fd(void)
{
	return ra_wake[0];
}

void ra_outbox_wake_drain(void)
{
	char buf[64];

	while(recv(ra_wake[0], buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

int ra_outbox_put(const ra_rec_t *rec, int *pin)
{
	char enc[RA_REC_MAX_LEN];
	int len, r, after_redis = 0;

	len = ra_rec_encode(rec, enc, sizeof(enc));
	if(len < 0) {
		LM_ERR("cannot encode %s record for Call-ID %s (too long?): lost\n",
				ra_rec_kind_name(rec->kind), rec->tag ? rec->tag : "");
		ra_stat_inc(RA_ST_OUTBOX_LOST);
		return -1;
	}
	if(ra_redis_enabled() && *pin != RA_PIN_SHM) {
		r = ra_redis_put(rec->tag, enc, len, ra_now_ms(), rec->created_ms,
				(char)rec->kind,
				rec->kind == RA_REC_END ? ra_set.end_guard_ttl : 0);
		if(r == 1) {
			LM_INFO("%s of Call-ID %s not written: another node wrote it "
					"already\n",
					ra_rec_kind_name(rec->kind), rec->tag);
			ra_stat_inc(RA_ST_OUTBOX_END_DUPS);
			return 1;
		}
		if(r == 0) {
			*pin = RA_PIN_REDIS;
			goto stored;
		}
		after_redis = (*pin == RA_PIN_REDIS);
		LM_ERR("redis did not take the %s record of Call-ID %s: keeping it "
			   "in shared memory (lost on restart)\n",
				ra_rec_kind_name(rec->kind), rec->tag);
	}
	if(ra_shmq_put(rec->tag, enc, len, after_redis, rec->created_ms) < 0) {
		LM_ERR("outbox full or no memory: %s record of Call-ID %s lost\n",
				ra_rec_kind_name(rec->kind), rec->tag);
		ra_stat_inc(RA_ST_OUTBOX_LOST);
		return -1;
	}
	ra_stat_inc(RA_ST_OUTBOX_SHM);
	if(*pin == RA_PIN_NONE)
		*pin = RA_PIN_SHM;
stored:
	ra_stat_inc(RA_ST_OUTBOX_ENQUEUED);
	ra_outbox_wake();
	return 0;
}

/* ---- shared memory store ---- */

static ra_shm_call_t *find_call(const char *tag, unsigned int hid)
{
	ra_shm_call_t *c;

	for(c = ra_q->hash[hid % RA_SHMQ_HSIZE]; c; c = c->hnext) {
		if(c->hid == hid && strcmp(c->tag, tag) == 0)
			return c;
	}
	return NULL;
}

static unsigned int tag_hash(const char *tag)
{
	str s;

	s.s = (char *)tag;
	s.len = strlen(tag);
	return core_hash(&s, NULL, 0);
}

int ra_shmq_put(const char *tag, const char *enc, int len, int after_redis,
		long long created_ms)
{
	unsigned int hid = tag_hash(tag);
	ra_shm_call_t *c;
	ra_shm_rec_t *r;
	size_t tlen;

	r = shm_malloc(sizeof(*r) + len);
	if(r == NULL) {
		SHM_MEM_ERROR;
		return -1;
	}
	r->next = NULL;
	r->after_redis = after_redis;
	r->created_ms = created_ms;
	r->len = len;
	memcpy(r->enc, enc, len);
	r->enc[len] = '\0';

	lock_get(&ra_q->lock);
	if(ra_q->depth >= ra_set.shm_max_records) {
		lock_release(&ra_q->lock);
		shm_free(r);
		return -1;
	}
	c = find_call(tag, hid);
	if(c == NULL) {
		tlen = strlen(tag);
		c = shm_malloc(sizeof(*c) + tlen);
		if(c == NULL) {
			lock_release(&ra_q->lock);
			shm_free(r);
			SHM_MEM_ERROR;
			return -1;
		}
		memset(c, 0, sizeof(*c));
		memcpy(c->tag, tag, tlen + 1);
		c->hid = hid;
		c->hnext = ra_q->hash[hid % RA_SHMQ_HSIZE];
		ra_q->hash[hid % RA_SHMQ_HSIZE] = c;
		c->prev = ra_q->last;
		if(ra_q->last)
			ra_q->last->next = c;
		else
			ra_q->first = c;
		ra_q->last = c;
		ra_q->calls++;
	}
	if(c->tail)
		c->tail->next = r;
	else
		c->head = r;
	c->tail = r;
	ra_q->depth++;
	lock_release(&ra_q->lock);
	return 0;
}

static void unlink_call(ra_shm_call_t *c)
{
	ra_shm_call_t **pp;

	for(pp = &ra_q->hash[c->hid % RA_SHMQ_HSIZE]; *pp; pp = &(*pp)->hnext) {
		if(*pp == c) {
			*pp = c->hnext;
			break;
		}
	}
	if(c->prev)
		c->prev->next = c->next;
	else
		ra_q->first = c->next;
	if(c->next)
		c->next->prev = c->prev;
	else
		ra_q->last = c->prev;
	ra_q->calls--;
	shm_free(c);
}

char *ra_pkg_dup(const char *s, int len)
{
	char *d = pkg_malloc(len + 1);

	if(d == NULL) {
		PKG_MEM_ERROR;
		return NULL;
	}
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

int ra_shmq_due(ra_due_t *out, int max, long long now_ms, ra_busy_f busy)
{
	ra_shm_call_t *c;
	int n = 0;

	lock_get(&ra_q->lock);
	for(c = ra_q->first; c && n < max; c = c->next) {
		if(c->head == NULL || c->next_ms > now_ms || busy(c->tag))
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		out[n].tag = ra_pkg_dup(c->tag, strlen(c->tag));
		out[n].enc = ra_pkg_dup(c->head->enc, c->head->len);
		if(out[n].tag == NULL || out[n].enc == NULL) {
			ra_due_free(&out[n]);
			break;
		}
		out[n].len = c->head->len;
		out[n].attempts = c->attempts;
		out[n].after_redis = c->head->after_redis;
		n++;
	}
	lock_release(&ra_q->lock);
	return n;
}

int ra_shmq_ack(const char *tag)
{
	ra_shm_call_t *c;
	ra_shm_rec_t *r;
	int more = 0;

	lock_get(&ra_q->lock);
	c = find_call(tag, tag_hash(tag));
	if(c && (r = c->head) != NULL) {
		c->head = r->next;
		if(c->head == NULL)
			c->tail = NULL;
		c->attempts = 0;
		c->next_ms = 0;
		ra_q->depth--;
		shm_free(r);
		if(c->head == NULL)
			unlink_call(c);
		else
			more = 1;
	}
	lock_release(&ra_q->lock);
	return more;
}

void ra_shmq_retry(const char *tag, long long next_ms, int failed)
{
	ra_shm_call_t *c;

	lock_get(&ra_q->lock);
	c = find_call(tag, tag_hash(tag));
	if(c) {
		c->attempts += failed ? 1 : 0;
		c->next_ms = next_ms;
	}
	lock_release(&ra_q->lock);
}

void ra_shmq_gauges(long long *depth, long long *calls, long long *oldest_ms)
{
	lock_get(&ra_q->lock);
	*depth = ra_q->depth;
	*calls = ra_q->calls;
	*oldest_ms = (ra_q->first && ra_q->first->head)
						 ? ra_q->first->head->created_ms
						 : 0;
	lock_release(&ra_q->lock);
}

void ra_shmq_flush(void)
{
	ra_shm_call_t *c;

	lock_get(&ra_q->lock);
	for(c = ra_q->first; c; c = c->next) {
		c->next_ms = 0;
		c->attempts = 0;
	}
	lock_release(&ra_q->lock);
}

int ra_shmq_list(ra_list_f cb, void *ctx, int max)
{
	const char *enc[8];
	int len[8];
	ra_shm_call_t *c;
	ra_shm_rec_t *r;
	int n = 0, k;

	/* the callback only formats the RPC reply: cheap enough under lock */
	lock_get(&ra_q->lock);
	for(c = ra_q->first; c && n < max; c = c->next, n++) {
		for(k = 0, r = c->head; r && k < 8; r = r->next, k++) {
			enc[k] = r->enc;
			len[k] = r->len;
		}
		cb(ctx, "shm", c->tag, c->next_ms, c->attempts, k, enc, len);
	}
	lock_release(&ra_q->lock);
	return n;
}

void ra_due_free(ra_due_t *d)
{
	if(d->tag)
		pkg_free(d->tag);
	if(d->enc)
		pkg_free(d->enc);
	memset(d, 0, sizeof(*d));
}
