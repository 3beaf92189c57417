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

#include <hiredis/hiredis.h>

#include "../../core/dprint.h"
#include "../../core/mem/mem.h"
#include "../../core/rand/kam_rand.h"

#include "ra_mod.h"
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

static const char *LUA_ENQ =
		"redis.call('RPUSH',KEYS[1],ARGV[1]) "
		"redis.call('ZADD',KEYS[2],'NX',ARGV[3],ARGV[2]) "
		"redis.call('ZADD',KEYS[3],'NX',ARGV[4],ARGV[2]) "
		"return redis.call('INCR',KEYS[4])";

static const char *LUA_ACK =
		"if redis.call('LINDEX',KEYS[1],0) ~= ARGV[1] then return -1 end "
		"redis.call('LPOP',KEYS[1]) "
		"redis.call('DECR',KEYS[4]) "
		"redis.call('HDEL',KEYS[5],ARGV[2]) "
		"local n = redis.call('LINDEX',KEYS[1],0) "
		"if not n then "
		"redis.call('ZREM',KEYS[2],ARGV[2]) "
		"redis.call('ZREM',KEYS[3],ARGV[2]) return 0 end "
		"redis.call('ZADD',KEYS[2],ARGV[3],ARGV[2]) "
		"local c = string.match(n,'^RA1|%a|%d+|%d+|(%d+)|') "
		"if c then redis.call('ZADD',KEYS[3],c,ARGV[2]) end "
		"return 1";

static const char *LUA_FLUSH =
		"local t = redis.call('ZRANGE',KEYS[1],0,-1) "
		"for i = 1, #t do redis.call('ZADD',KEYS[1],0,t[i]) end "
		"redis.call('DEL',KEYS[2]) "
		"return #t";

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
		long long created_ms)
{
	char kq[RA_KEY_LEN], kp[RA_KEY_LEN], ks[RA_KEY_LEN], kd[RA_KEY_LEN];
	redisReply *r;

	if(!ra_redis_up() || qkey(kq, tag) < 0)
		return -1;
	key(kp, "pending");
	key(ks, "since");
	key(kd, "depth");
	r = cmd_ok("enqueue",
			redisCommand(ra_rc, "EVAL %s 4 %s %s %s %s %b %s %lld %lld",
					LUA_ENQ, kq, kp, ks, kd, enc, (size_t)len, tag, now_ms,
					created_ms));
	if(r == NULL)
		return -1;
	freeReplyObject(r);
	return 0;
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

/* head record and attempts of one call into d; 1 found, 0 empty, -1 error */
static int fetch_head(const char *tag, ra_due_t *d)
{
	char kq[RA_KEY_LEN], kt[RA_KEY_LEN];
	redisReply *r;
	long long tries = 0;

	if(qkey(kq, tag) < 0)
		return 0;
	key(kt, "tries");
	r = cmd_ok("LINDEX", redisCommand(ra_rc, "LINDEX %s 0", kq));
	if(r == NULL)
		return -1;
	if(r->type != REDIS_REPLY_STRING) {
		freeReplyObject(r);
		return 0;
	}
	memset(d, 0, sizeof(*d));
	d->enc = ra_pkg_dup(r->str, (int)r->len);
	d->len = (int)r->len;
	freeReplyObject(r);
	d->tag = ra_pkg_dup(tag, strlen(tag));
	if(d->enc == NULL || d->tag == NULL) {
		ra_due_free(d);
		return -1;
	}
	r = cmd_ok("HGET", redisCommand(ra_rc, "HGET %s %s", kt, tag));
	if(r && get_int(r, &tries) == 0)
		d->attempts = (int)tries;
	if(r)
		freeReplyObject(r);
	d->in_redis = 1;
	return 1;
}

int ra_redis_due(ra_due_t *out, int max, long long now_ms, ra_busy_f busy)
{
	char kp[RA_KEY_LEN];
	redisReply *r;
	size_t i;
	int n = 0, k;

	if(!ra_redis_up())
		return -1;
	key(kp, "pending");
	/* twice what fits: calls already in flight are skipped */
	r = cmd_ok("ZRANGEBYSCORE",
			redisCommand(ra_rc, "ZRANGEBYSCORE %s -inf %lld LIMIT 0 %d", kp,
					now_ms, max * 2 + 8));
	if(r == NULL)
		return -1;
	for(i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements && n < max;
			i++) {
		if(r->element[i]->type != REDIS_REPLY_STRING
				|| busy(r->element[i]->str))
			continue;
		k = fetch_head(r->element[i]->str, &out[n]);
		if(k < 0)
			break;
		if(k == 0) {
			/* index entry without records: drop it */
			freeReplyObject(redisCommand(ra_rc, "ZREM %s %s", kp,
					r->element[i]->str));
			continue;
		}
		n++;
	}
	freeReplyObject(r);
	return n;
}

int ra_redis_ack(const char *tag, const char *enc, int len, long long now_ms)
{
	char kq[RA_KEY_LEN], kp[RA_KEY_LEN], ks[RA_KEY_LEN], kd[RA_KEY_LEN],
			kt[RA_KEY_LEN];
	redisReply *r;
	long long v = -1;

	if(!ra_redis_up() || qkey(kq, tag) < 0)
		return -1;
	key(kp, "pending");
	key(ks, "since");
	key(kd, "depth");
	key(kt, "tries");
	r = cmd_ok("ack", redisCommand(ra_rc, "EVAL %s 5 %s %s %s %s %s %b %s %lld",
							  LUA_ACK, kq, kp, ks, kd, kt, enc, (size_t)len,
							  tag, now_ms));
	if(r == NULL)
		return -1;
	get_int(r, &v);
	freeReplyObject(r);
	if(v < 0)
		LM_WARN("record of Call-ID %s was no longer at the head\n", tag);
	return 0;
}

int ra_redis_retry(const char *tag, long long now_ms)
{
	char kp[RA_KEY_LEN], kt[RA_KEY_LEN];
	redisReply *r;
	long long attempts = 1, delay;

	if(!ra_redis_up())
		return -1;
	key(kp, "pending");
	key(kt, "tries");
	r = cmd_ok("HINCRBY", redisCommand(ra_rc, "HINCRBY %s %s 1", kt, tag));
	if(r == NULL)
		return -1;
	get_int(r, &attempts);
	freeReplyObject(r);
	delay = ra_backoff_ms((int)(attempts > 1000000 ? 1000000 : attempts),
			ra_set.retry_min_ms, ra_set.retry_max_ms, kam_rand() % 1001);
	r = cmd_ok("ZADD", redisCommand(ra_rc, "ZADD %s XX %lld %s", kp,
							   now_ms + delay, tag));
	if(r == NULL)
		return -1;
	freeReplyObject(r);
	return (int)attempts;
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
	char kp[RA_KEY_LEN], kt[RA_KEY_LEN];
	redisReply *r;

	if(!ra_redis_up())
		return -1;
	key(kp, "pending");
	key(kt, "tries");
	r = cmd_ok("flush",
			redisCommand(ra_rc, "EVAL %s 2 %s %s", LUA_FLUSH, kp, kt));
	if(r == NULL)
		return -1;
	freeReplyObject(r);
	return 0;
}
