/*
 * rating_agent module - the durable outbox store in Redis (hiredis)
 *
 * This file is part of Kamailio, a free SIP server.
 *
 * Kamailio is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version
 */

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "../../core/dprint.h"
#include "../../core/mem/mem.h"
#include "../../core/rand/kam_rand.h"

#include "ra_mod.h"
#include "ra_stats.h"
#include "ra_outbox_redis.h"

#define RA_KEY_LEN 1024

static char ra_rhost[512];
static int ra_rport = 6379;
static int ra_rdb = 0;
static char ra_rpass[512];
static int ra_renabled = 0;

/* per process */
static redisContext *ra_rc = NULL;
static long long ra_rretry_ms = 0;
/* the sender's name in P:claim: node_id:pid */
static char ra_owner[192];

static int get_int(redisReply *r, long long *v);

/* KEYS[5]/ARGV[5..6]: with a ttl, the record is written only if no node
 * wrote this kind of record of the call before (the end of a call that
 * two nodes saw end); -2 when one did */
static const char *LUA_ENQ =
		"if tonumber(ARGV[5]) > 0 and not redis.call('SET',KEYS[5],ARGV[6],"
		"'NX','EX',ARGV[5]) then return -2 end "
		"redis.call('RPUSH',KEYS[1],ARGV[1]) "
		"redis.call('ZADD',KEYS[2],'NX',ARGV[3],ARGV[2]) "
		"redis.call('ZADD',KEYS[3],'NX',ARGV[4],ARGV[2]) "
		"return redis.call('INCR',KEYS[4])";

/* claim up to ARGV[4] due calls for ARGV[3] until ARGV[2]: their pending
 * time becomes the end of the lease, so no other sender sees them due
 * before; returns tag, previous claimant ('' = none) pairs */
static const char *LUA_CLAIM =
		"local t = redis.call('ZRANGEBYSCORE',KEYS[1],'-inf',ARGV[1],"
		"'LIMIT',0,tonumber(ARGV[4])) "
		"local out = {} "
		"for i = 1, #t do "
		"redis.call('ZADD',KEYS[1],'XX',ARGV[2],t[i]) "
		"local p = redis.call('HGET',KEYS[2],t[i]) "
		"redis.call('HSET',KEYS[2],t[i],ARGV[3]) "
		"out[#out + 1] = t[i] out[#out + 1] = p or '' end "
		"return out";

/* the head record was delivered (or refused for good): pop it if it is
 * still the head; the claim is released and, if it was still ours, the
 * call's next record is due at once */
static const char *LUA_ACK =
		"local mine = redis.call('HGET',KEYS[6],ARGV[2]) == ARGV[4] "
		"if mine then redis.call('HDEL',KEYS[6],ARGV[2]) end "
		"if redis.call('LINDEX',KEYS[1],0) ~= ARGV[1] then "
		"if mine and redis.call('LLEN',KEYS[1]) > 0 then "
		"redis.call('ZADD',KEYS[2],'XX',ARGV[3],ARGV[2]) end "
		"return -1 end "
		"redis.call('LPOP',KEYS[1]) "
		"redis.call('DECR',KEYS[4]) "
		"redis.call('HDEL',KEYS[5],ARGV[2]) "
		"local n = redis.call('LINDEX',KEYS[1],0) "
		"if not n then "
		"redis.call('ZREM',KEYS[2],ARGV[2]) "
		"redis.call('ZREM',KEYS[3],ARGV[2]) return 0 end "
		"if mine then redis.call('ZADD',KEYS[2],ARGV[3],ARGV[2]) end "
		"local c = string.match(n,'^RA1|%a|%d+|%d+|(%d+)|') "
		"if c then redis.call('ZADD',KEYS[3],c,ARGV[2]) end "
		"return 1";

/* a failed delivery of a call we still hold: one more attempt counted,
 * next attempt at ARGV[3], claim released; -2 when the claim is gone (our
 * lease expired and another sender has the call now) */
static const char *LUA_RETRY =
		"if redis.call('HGET',KEYS[3],ARGV[1]) ~= ARGV[2] then return -2 end "
		"redis.call('HDEL',KEYS[3],ARGV[1]) "
		"redis.call('ZADD',KEYS[1],'XX',ARGV[3],ARGV[1]) "
		"return redis.call('HINCRBY',KEYS[2],ARGV[1],1)";

/* claims of this node's earlier senders (ARGV[1] = "node_id:", a
 * restart): they are dead, their calls are due now */
static const char *LUA_RELEASE_OWN =
		"local h = redis.call('HGETALL',KEYS[2]) "
		"local n = 0 "
		"for i = 1, #h, 2 do "
		"if string.sub(h[i + 1],1,#ARGV[1]) == ARGV[1] "
		"and h[i + 1] ~= ARGV[2] then "
		"redis.call('HDEL',KEYS[2],h[i]) "
		"redis.call('ZADD',KEYS[1],'XX',ARGV[3],h[i]) n = n + 1 end end "
		"return n";

/* every waiting call that no sender holds is due now */
static const char *LUA_FLUSH =
		"local t = redis.call('ZRANGE',KEYS[1],0,-1) "
		"local n = 0 "
		"for i = 1, #t do "
		"if redis.call('HEXISTS',KEYS[3],t[i]) == 0 then "
		"redis.call('ZADD',KEYS[1],0,t[i]) n = n + 1 end end "
		"redis.call('DEL',KEYS[2]) "
		"return n";

int ra_redis_enabled(void)
{
	return ra_renabled;
}

/* redis://[[user]:password@]host[:port][/db] */
int ra_redis_config(void)
{
	char url[512];
	char *p, *at, *slash, *colon;

	if(ra_set.redis_url.len <= 0)
		return 0;
	if(ra_set.redis_url.len >= (int)sizeof(url)) {
		LM_ERR("redis_url too long\n");
		return -1;
	}
	memcpy(url, ra_set.redis_url.s, ra_set.redis_url.len);
	url[ra_set.redis_url.len] = '\0';
	p = url;
	if(strncmp(p, "redis://", 8) == 0)
		p += 8;
	at = strrchr(p, '@');
	if(at) {
		*at = '\0';
		colon = strchr(p, ':');
		snprintf(ra_rpass, sizeof(ra_rpass), "%s", colon ? colon + 1 : p);
		p = at + 1;
	}
	slash = strchr(p, '/');
	if(slash) {
		*slash = '\0';
		ra_rdb = atoi(slash + 1);
	}
	colon = strrchr(p, ':');
	if(colon) {
		*colon = '\0';
		ra_rport = atoi(colon + 1);
	}
	if(*p == '\0' || ra_rport <= 0 || ra_rport > 65535 || ra_rdb < 0) {
		LM_ERR("invalid redis_url [%.*s]\n", ra_set.redis_url.len,
				ra_set.redis_url.s);
		return -1;
	}
	snprintf(ra_rhost, sizeof(ra_rhost), "%s", p);
	ra_renabled = 1;
	LM_INFO("outbox in redis %s:%d db %d, key prefix '%.*s'\n", ra_rhost,
			ra_rport, ra_rdb, ra_set.redis_prefix.len, ra_set.redis_prefix.s);
	return 0;
}

void ra_redis_close(void)
{
	if(ra_rc) {
		redisFree(ra_rc);
		ra_rc = NULL;
	}
}

static void fail(const char *what)
{
	LM_ERR("redis %s failed: %s\n", what,
			ra_rc ? (ra_rc->err ? ra_rc->errstr : "bad reply") : "no link");
	ra_redis_close();
	ra_rretry_ms = ra_mono_ms() + 1000;
}

static int simple_cmd(const char *what, redisReply *r)
{
	int ok = r && r->type != REDIS_REPLY_ERROR;

	if(r && r->type == REDIS_REPLY_ERROR)
		LM_ERR("redis %s: %s\n", what, r->str);
	if(r)
		freeReplyObject(r);
	return ok ? 0 : -1;
}

int ra_redis_up(void)
{
	struct timeval tv;

	if(!ra_renabled)
		return 0;
	if(ra_rc)
		return 1;
	if(ra_mono_ms() < ra_rretry_ms)
		return 0;
	tv.tv_sec = ra_set.redis_timeout_ms / 1000;
	tv.tv_usec = (ra_set.redis_timeout_ms % 1000) * 1000;
	ra_rc = redisConnectWithTimeout(ra_rhost, ra_rport, tv);
	if(ra_rc == NULL || ra_rc->err) {
		fail("connect");
		return 0;
	}
	redisSetTimeout(ra_rc, tv);
	if(ra_rpass[0]
			&& simple_cmd("AUTH", redisCommand(ra_rc, "AUTH %s", ra_rpass))
					   < 0) {
		fail("AUTH");
		return 0;
	}
	if(ra_rdb > 0
			&& simple_cmd("SELECT", redisCommand(ra_rc, "SELECT %d", ra_rdb))
					   < 0) {
		fail("SELECT");
		return 0;
	}
	return 1;
}

static void key(char *buf, const char *name)
{
	snprintf(buf, RA_KEY_LEN, "%.*s:%s", ra_set.redis_prefix.len,
			ra_set.redis_prefix.s, name);
}

/* P:q:<tag>; Call-IDs are at most a few hundred bytes */
static int qkey(char *buf, const char *tag)
{
	int n = snprintf(buf, RA_KEY_LEN, "%.*s:q:%s", ra_set.redis_prefix.len,
			ra_set.redis_prefix.s, tag);
	return (n > 0 && n < RA_KEY_LEN) ? 0 : -1;
}

/* run a command, the reply must not be an error; NULL on failure (and the
 * link is dropped) */
static redisReply *cmd_ok(const char *what, redisReply *r)
{
	if(r == NULL) {
		fail(what);
		return NULL;
	}
	if(r->type == REDIS_REPLY_ERROR) {
		LM_ERR("redis %s: %s\n", what, r->str);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

int ra_redis_put(const char *tag, const char *enc, int len, long long now_ms,
		long long created_ms, char kind, int once_ttl)
{
	char kq[RA_KEY_LEN], kp[RA_KEY_LEN], ks[RA_KEY_LEN], kd[RA_KEY_LEN],
			ko[RA_KEY_LEN];
	redisReply *r;
	long long v = 0;
	int n, stale;

	if(qkey(kq, tag) < 0)
		return -1;
	key(kp, "pending");
	key(ks, "since");
	key(kd, "depth");
	n = snprintf(ko, sizeof(ko), "%.*s:once:%c:%s", ra_set.redis_prefix.len,
			ra_set.redis_prefix.s, kind, tag);
	if(n <= 0 || n >= (int)sizeof(ko))
		return -1;
	/* a link this process opened before Redis restarted fails on its first
	 * use: then one new connection and one more try, so that the record
	 * does not end up in shared memory (lost on restart) for that alone;
	 * a retry after a lost reply may store the record twice (delivery is
	 * at least once, the agent sees the same record; an end record under
	 * end_guard_ttl is not stored twice: the first try set its mark) */
	stale = (ra_rc != NULL);
	for(;;) {
		if(!ra_redis_up())
			return -1;
		r = redisCommand(ra_rc, "EVAL %s 5 %s %s %s %s %s %b %s %lld %lld %d %s",
				LUA_ENQ, kq, kp, ks, kd, ko, enc, (size_t)len, tag, now_ms,
				created_ms, once_ttl, ra_instance);
		if(r != NULL || !stale)
			break;
		fail("enqueue (reconnecting once)");
		ra_rretry_ms = 0;
		stale = 0;
	}
	r = cmd_ok("enqueue", r);
	if(r == NULL)
		return -1;
	get_int(r, &v);
	freeReplyObject(r);
	return v == -2 ? 1 : 0;
}

static int get_int(redisReply *r, long long *v)
{
	if(r == NULL)
		return -1;
	if(r->type == REDIS_REPLY_INTEGER) {
		*v = r->integer;
		return 0;
	}
	if(r->type == REDIS_REPLY_STRING) {
		*v = strtoll(r->str, NULL, 10);
		return 0;
	}
	if(r->type == REDIS_REPLY_NIL) {
		*v = 0;
		return 0;
	}
	return -1;
}

/* one reply of a pipeline; NULL when the link broke (then dropped) */
static redisReply *next_reply(void)
{
	redisReply *r = NULL;

	if(redisGetReply(ra_rc, (void **)&r) != REDIS_OK || r == NULL) {
		fail("due heads");
		return NULL;
	}
	return r;
}

/* the head record and attempts of a claimed call into d, from the replies
 * of its LINDEX and HGET; 1 found, 0 the call has no records, -1 no memory */
static int take_head(const char *tag, redisReply *head, redisReply *tries,
		ra_due_t *d)
{
	long long n = 0;

	if(head->type != REDIS_REPLY_STRING)
		return 0;
	memset(d, 0, sizeof(*d));
	d->enc = ra_pkg_dup(head->str, (int)head->len);
	d->len = (int)head->len;
	d->tag = ra_pkg_dup(tag, strlen(tag));
	if(d->enc == NULL || d->tag == NULL) {
		ra_due_free(d);
		return -1;
	}
	if(tries->type != REDIS_REPLY_ERROR && get_int(tries, &n) == 0)
		d->attempts = (int)n;
	d->in_redis = 1;
	return 1;
}

void ra_redis_owner_init(void)
{
	char host[128];

	if(ra_set.node_id.len > 0) {
		snprintf(ra_owner, sizeof(ra_owner), "%.*s:%d", ra_set.node_id.len,
				ra_set.node_id.s, (int)getpid());
	} else {
		if(gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "node");
		host[sizeof(host) - 1] = '\0';
		snprintf(ra_owner, sizeof(ra_owner), "%s:%d", host, (int)getpid());
	}
}

const char *ra_redis_owner(void)
{
	return ra_owner;
}

int ra_redis_release_own(long long now_ms)
{
	char kp[RA_KEY_LEN], kc[RA_KEY_LEN], mine[192];
	redisReply *r;
	long long n = 0;
	const char *colon = strrchr(ra_owner, ':');

	if(colon == NULL || !ra_redis_up())
		return -1;
	snprintf(mine, sizeof(mine), "%.*s", (int)(colon - ra_owner + 1),
			ra_owner);
	key(kp, "pending");
	key(kc, "claim");
	r = cmd_ok("release", redisCommand(ra_rc, "EVAL %s 2 %s %s %s %s %lld",
								  LUA_RELEASE_OWN, kp, kc, mine, ra_owner,
								  now_ms));
	if(r == NULL)
		return -1;
	get_int(r, &n);
	freeReplyObject(r);
	if(n > 0)
		LM_NOTICE("outbox: %lld calls held by this node's previous sender "
				  "are due again\n",
				n);
	return (int)n;
}

long long ra_redis_lease_ms(void)
{
	return ra_set.outbox_lease_ms > 0 ? ra_set.outbox_lease_ms
									  : ra_set.outbox_timeout_ms + 5000;
}

/* a call taken over from a sender whose lease ran out (a dead node, or
 * one that lost Redis while sending): its head record may have reached
 * the agent already, and is sent again (same tag and timestamps) */
static void note_reclaim(const char *tag, redisReply *prev)
{
	if(prev->type != REDIS_REPLY_STRING || prev->len == 0
			|| strcmp(prev->str, ra_owner) == 0)
		return;
	LM_NOTICE("outbox: Call-ID %s taken over from %s (its lease expired)\n",
			tag, prev->str);
	ra_stat_inc(RA_ST_OUTBOX_RECLAIMED);
}

/* a claimed call without records: forget it */
static void drop_empty(const char *kp, const char *kc, const char *tag)
{
	freeReplyObject(redisCommand(ra_rc, "ZREM %s %s", kp, tag));
	freeReplyObject(redisCommand(ra_rc, "HDEL %s %s", kc, tag));
}

/* Two round trips whatever the number of calls: the claim, then the head
 * record and attempts of every claimed call in one pipeline. */
int ra_redis_due(ra_due_t *out, int max, long long now_ms, ra_busy_f busy)
{
	char kp[RA_KEY_LEN], kc[RA_KEY_LEN], kq[RA_KEY_LEN], kt[RA_KEY_LEN];
	const char *cand[RA_DUE_MAX], *gone[RA_DUE_MAX];
	redisReply *r, *head, *tries;
	const char *tag;
	size_t i;
	int n = 0, nc = 0, ngone = 0, c, k;

	if(!ra_redis_up())
		return -1;
	if(max > RA_DUE_MAX)
		max = RA_DUE_MAX;
	key(kp, "pending");
	key(kc, "claim");
	key(kt, "tries");
	r = cmd_ok("claim", redisCommand(ra_rc, "EVAL %s 2 %s %s %lld %lld %s %d",
								LUA_CLAIM, kp, kc, now_ms,
								now_ms + ra_redis_lease_ms(), ra_owner, max));
	if(r == NULL)
		return -1;
	for(i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
		if(r->element[i]->type != REDIS_REPLY_STRING)
			continue;
		tag = r->element[i]->str;
		note_reclaim(tag, r->element[i + 1]);
		/* ours already (in flight): the new claim is ours too */
		if(busy(tag))
			continue;
		/* a tag too long for a key has no records */
		if(qkey(kq, tag) < 0) {
			gone[ngone++] = tag;
			continue;
		}
		if(redisAppendCommand(ra_rc, "LINDEX %s 0", kq) != REDIS_OK
				|| redisAppendCommand(ra_rc, "HGET %s %s", kt, tag)
						   != REDIS_OK) {
			fail("due heads");
			freeReplyObject(r);
			return -1;
		}
		cand[nc++] = tag;
	}
	for(c = 0; c < nc; c++) {
		head = next_reply();
		tries = head ? next_reply() : NULL;
		if(tries == NULL) {
			/* the link dropped (Redis went away): no more replies on it */
			if(head)
				freeReplyObject(head);
			break;
		}
		k = take_head(cand[c], head, tries, &out[n]);
		freeReplyObject(head);
		freeReplyObject(tries);
		if(k > 0)
			n++;
		else if(k == 0)
			gone[ngone++] = cand[c];
	}
	/* every reply of the pipeline is read: plain commands again */
	for(c = 0; c < ngone && ra_rc; c++)
		drop_empty(kp, kc, gone[c]);
	freeReplyObject(r);
	return n;
}

int ra_redis_ack(const char *tag, const char *enc, int len, long long now_ms)
{
	char kq[RA_KEY_LEN], kp[RA_KEY_LEN], ks[RA_KEY_LEN], kd[RA_KEY_LEN],
			kt[RA_KEY_LEN], kc[RA_KEY_LEN];
	redisReply *r;
	long long v = -1;

	if(!ra_redis_up() || qkey(kq, tag) < 0)
		return -1;
	key(kp, "pending");
	key(ks, "since");
	key(kd, "depth");
	key(kt, "tries");
	key(kc, "claim");
	r = cmd_ok("ack",
			redisCommand(ra_rc, "EVAL %s 6 %s %s %s %s %s %s %b %s %lld %s",
					LUA_ACK, kq, kp, ks, kd, kt, kc, enc, (size_t)len, tag,
					now_ms, ra_owner));
	if(r == NULL)
		return -1;
	get_int(r, &v);
	freeReplyObject(r);
	if(v < 0)
		LM_WARN("record of Call-ID %s was no longer at the head\n", tag);
	return v > 0 ? 1 : 0;
}

int ra_redis_retry(const char *tag, int attempts, long long now_ms)
{
	char kp[RA_KEY_LEN], kt[RA_KEY_LEN], kc[RA_KEY_LEN];
	redisReply *r;
	long long n = -1, delay;

	if(!ra_redis_up())
		return -1;
	key(kp, "pending");
	key(kt, "tries");
	key(kc, "claim");
	delay = ra_backoff_ms(attempts + 1 > 1000000 ? 1000000 : attempts + 1,
			ra_set.retry_min_ms, ra_set.retry_max_ms, kam_rand() % 1001);
	r = cmd_ok("retry", redisCommand(ra_rc, "EVAL %s 3 %s %s %s %s %s %lld",
								LUA_RETRY, kp, kt, kc, tag, ra_owner,
								now_ms + delay));
	if(r == NULL)
		return -1;
	get_int(r, &n);
	freeReplyObject(r);
	if(n == -2)
		LM_NOTICE("outbox: Call-ID %s is no longer ours (lease expired): "
				  "its retry is left to the sender that holds it\n",
				tag);
	return (int)n;
}

int ra_redis_call_pending(const char *tag)
{
	char kq[RA_KEY_LEN];
	redisReply *r;
	long long n = 0;

	if(!ra_redis_up() || qkey(kq, tag) < 0)
		return -1;
	r = cmd_ok("LLEN", redisCommand(ra_rc, "LLEN %s", kq));
	if(r == NULL)
		return -1;
	get_int(r, &n);
	freeReplyObject(r);
	return n > 0 ? 1 : 0;
}

int ra_redis_gauges(long long *depth, long long *calls, long long *oldest_ms)
{
	char kp[RA_KEY_LEN], ks[RA_KEY_LEN], kd[RA_KEY_LEN];
	redisReply *r;

	if(!ra_redis_up())
		return -1;
	key(kp, "pending");
	key(ks, "since");
	key(kd, "depth");
	r = cmd_ok("GET", redisCommand(ra_rc, "GET %s", kd));
	if(r == NULL)
		return -1;
	get_int(r, depth);
	freeReplyObject(r);
	r = cmd_ok("ZCARD", redisCommand(ra_rc, "ZCARD %s", kp));
	if(r == NULL)
		return -1;
	get_int(r, calls);
	freeReplyObject(r);
	r = cmd_ok("ZRANGE", redisCommand(ra_rc, "ZRANGE %s 0 0 WITHSCORES", ks));
	if(r == NULL)
		return -1;
	*oldest_ms = 0;
	if(r->type == REDIS_REPLY_ARRAY && r->elements == 2)
		get_int(r->element[1], oldest_ms);
	freeReplyObject(r);
	return 0;
}

int ra_redis_list(ra_list_f cb, void *ctx, int max)
{
	char kp[RA_KEY_LEN], kq[RA_KEY_LEN], kt[RA_KEY_LEN];
	const char *enc[8];
	int len[8];
	redisReply *r, *l, *t;
	long long next, tries;
	size_t i, k;
	int n = 0;

	if(!ra_redis_up())
		return -1;
	key(kp, "pending");
	key(kt, "tries");
	r = cmd_ok("ZRANGE",
			redisCommand(ra_rc, "ZRANGE %s 0 %d WITHSCORES", kp, max - 1));
	if(r == NULL)
		return -1;
	for(i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
		if(qkey(kq, r->element[i]->str) < 0)
			continue;
		next = strtoll(r->element[i + 1]->str, NULL, 10);
		l = cmd_ok("LRANGE", redisCommand(ra_rc, "LRANGE %s 0 7", kq));
		if(l == NULL)
			break;
		t = cmd_ok("HGET",
				redisCommand(ra_rc, "HGET %s %s", kt, r->element[i]->str));
		if(t == NULL && ra_rc == NULL) {
			/* the link dropped: no more commands on it */
			freeReplyObject(l);
			break;
		}
		tries = 0;
		if(t) {
			get_int(t, &tries);
			freeReplyObject(t);
		}
		for(k = 0; l->type == REDIS_REPLY_ARRAY && k < l->elements && k < 8;
				k++) {
			enc[k] = l->element[k]->str;
			len[k] = (int)l->element[k]->len;
		}
		cb(ctx, "redis", r->element[i]->str, next, (int)tries, (int)k, enc,
				len);
		freeReplyObject(l);
		n++;
	}
	freeReplyObject(r);
	return n;
}

int ra_redis_flush(void)
{
	char kp[RA_KEY_LEN], kt[RA_KEY_LEN], kc[RA_KEY_LEN];
	redisReply *r;

	if(!ra_redis_up())
		return -1;
	key(kp, "pending");
	key(kt, "tries");
	key(kc, "claim");
	r = cmd_ok("flush", redisCommand(ra_rc, "EVAL %s 3 %s %s %s", LUA_FLUSH,
								kp, kt, kc));
	if(r == NULL)
		return -1;
	freeReplyObject(r);
	return 0;
}
