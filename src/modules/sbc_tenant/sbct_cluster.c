/*
 * sbc_tenant - per-tenant limits across a cluster of SBC nodes (Redis)
 *
 * See sbct_cluster.h. Each process has its own Redis connection, opened
 * on first use; after a failure the process does not try again for a
 * second (its checks use the node's own counters meanwhile), so a dead
 * Redis costs a SIP worker at most one cluster_timeout_ms per second.
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "../../core/dprint.h"
#include "../../core/locking.h"
#include "../../core/mem/mem.h"
#include "../../core/mem/shm_mem.h"
#include "../../core/pt.h"
#include "../../core/sr_module.h"
#include "../../core/timer_proc.h"

#include "sbct_cluster.h"
#include "sbct_limits.h"

#define SBCT_KEY_LEN 160
#define SBCT_REFRESH_BATCH 200
#define SBCT_LOG_EVERY 100

str sbct_cluster_redis_url = STR_NULL;
str sbct_cluster_prefix = str_init("sbct");
str sbct_node_id = STR_NULL;
int sbct_cluster_lease_s = 30;
int sbct_cluster_timeout_ms = 200;

/* Time comes from Redis (TIME): the nodes' clocks do not matter. Leases
 * in ms, the bucket in us (doubles are exact far beyond both). */
#define LUA_NOW                                                \
	"if redis.replicate_commands then redis.replicate_commands() end " \
	"local t = redis.call('TIME') "                             \
	"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "

/* KEYS[1] calls set, KEYS[2] bucket; ARGV member, max_calls, max_cps,
 * lease ms. Returns {1, calls} / {-1, calls} / {-2, retry ms}. */
static const char *LUA_ACQUIRE =
		LUA_NOW
		"local maxc = tonumber(ARGV[2]) "
		"local maxr = tonumber(ARGV[3]) "
		"local lease = tonumber(ARGV[4]) "
		"redis.call('ZREMRANGEBYSCORE',KEYS[1],'-inf',now) "
		"local n = redis.call('ZCARD',KEYS[1]) "
		"if maxc > 0 and n >= maxc "
		"and not redis.call('ZSCORE',KEYS[1],ARGV[1]) then "
		"return {-1, n} end "
		"if maxr > 0 then "
		"local us = tonumber(t[1]) * 1000000 + tonumber(t[2]) "
		"local iv = math.floor(1000000 / maxr) "
		"local tau = iv * (maxr - 1) "
		"local tat = tonumber(redis.call('GET',KEYS[2]) or '0') "
		"if tat < us then tat = us end "
		"if tat - us > tau then "
		"return {-2, math.ceil((tat - us - tau) / 1000)} end "
		"redis.call('SET',KEYS[2],string.format('%.0f',tat + iv),'PX',"
		"math.ceil((tat + iv - us) / 1000) + 1000) end "
		"redis.call('ZADD',KEYS[1],now + lease,ARGV[1]) "
		"redis.call('PEXPIRE',KEYS[1],lease * 2) "
		"return {1, redis.call('ZCARD',KEYS[1])}";

/* KEYS calls sets, ARGV[1] lease ms, ARGV[i + 1] the member of KEYS[i]:
 * the leases of this node's live calls, added again if they were lost */
static const char *LUA_REFRESH =
		LUA_NOW
		"local lease = tonumber(ARGV[1]) "
		"for i = 1, #KEYS do "
		"redis.call('ZADD',KEYS[i],now + lease,ARGV[i + 1]) "
		"redis.call('PEXPIRE',KEYS[i],lease * 2) end "
		"return #KEYS";

/* KEYS[1] calls set: live calls (leases not expired) */
static const char *LUA_COUNT = LUA_NOW
		"return redis.call('ZCOUNT',KEYS[1],'(' .. now,'+inf')";

enum
{
	SBCT_LUA_ACQUIRE = 0,
	SBCT_LUA_REFRESH,
	SBCT_LUA_COUNT,
	SBCT_LUA_N
};

static const char **sbct_lua[SBCT_LUA_N] = {
		&LUA_ACQUIRE, &LUA_REFRESH, &LUA_COUNT};

typedef struct sbct_cluster_shared
{
	gen_lock_t lock;
	sbct_lease_list_t leases;
	sbct_link_t cursor; /* the refresh walk's */
	/* statistics (atomic) */
	unsigned long checks_redis;
	unsigned long checks_local;
	unsigned long redis_errors;
	unsigned long refreshes;
	unsigned long refreshed;
	unsigned long releases;
	unsigned long remote_releases;
	char owner[128];
} sbct_cluster_shared_t;

static sbct_cluster_shared_t *_sc = NULL;

/* Redis URL, parsed in mod_init */
static char _host[512];
static int _port = 6379;
static int _db = 0;
static char _pass[512];

/* per process */
static redisContext *_rc = NULL;
static long long _retry_at_ms = 0;
static unsigned int _fail_streak = 0;
static char _sha[SBCT_LUA_N][48];

#define ADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_RELAXED)
#define GET(p) __atomic_load_n((p), __ATOMIC_RELAXED)

static long long sbct_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int sbct_cluster_enabled(void)
{
	return _sc != NULL;
}

const char *sbct_cluster_owner(void)
{
	return _sc ? _sc->owner : "";
}

/* redis://[[user]:password@]host[:port][/db] */
static int sbct_parse_url(void)
{
	char url[512];
	char *p, *at, *slash, *colon;

	if(sbct_cluster_redis_url.len >= (int)sizeof(url)) {
		LM_ERR("cluster_redis_url too long\n");
		return -1;
	}
	memcpy(url, sbct_cluster_redis_url.s, sbct_cluster_redis_url.len);
	url[sbct_cluster_redis_url.len] = '\0';
	p = url;
	if(strncmp(p, "redis://", 8) == 0)
		p += 8;
	at = strrchr(p, '@');
	if(at) {
		*at = '\0';
		colon = strchr(p, ':');
		snprintf(_pass, sizeof(_pass), "%s", colon ? colon + 1 : p);
		p = at + 1;
	}
	slash = strchr(p, '/');
	if(slash) {
		*slash = '\0';
		_db = atoi(slash + 1);
	}
	colon = strrchr(p, ':');
	if(colon) {
		*colon = '\0';
		_port = atoi(colon + 1);
	}
	if(*p == '\0' || _port <= 0 || _port > 65535 || _db < 0) {
		LM_ERR("invalid cluster_redis_url [%.*s]\n", sbct_cluster_redis_url.len,
				sbct_cluster_redis_url.s);
		return -1;
	}
	snprintf(_host, sizeof(_host), "%s", p);
	return 0;
}

/* ---- connection ---------------------------------------------------------- */

static void sbct_redis_close(void)
{
	if(_rc) {
		redisFree(_rc);
		_rc = NULL;
	}
}

static void sbct_redis_fail(const char *what, const char *why)
{
	ADD(&_sc->redis_errors, 1);
	_fail_streak++;
	if(_fail_streak == 1 || _fail_streak % SBCT_LOG_EVERY == 0)
		LM_ERR("cluster redis %s:%d %s failed: %s (failure %u in a row of"
			   " this process; limits are checked on this node's counters"
			   " until it works)\n",
				_host, _port, what, why, _fail_streak);
	sbct_redis_close();
	_retry_at_ms = sbct_mono_ms() + 1000;
}

/* a command whose reply must not be an error; NULL when it failed (the
 * link is dropped) */
static redisReply *sbct_cmd_ok(const char *what, redisReply *r)
{
	if(r == NULL) {
		sbct_redis_fail(what, _rc && _rc->err ? _rc->errstr : "no reply");
		return NULL;
	}
	if(r->type == REDIS_REPLY_ERROR) {
		sbct_redis_fail(what, r->str);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

static int sbct_load_scripts(void)
{
	redisReply *r;
	int i;

	for(i = 0; i < SBCT_LUA_N; i++) {
		r = sbct_cmd_ok("SCRIPT LOAD",
				redisCommand(_rc, "SCRIPT LOAD %s", *sbct_lua[i]));
		if(r == NULL)
			return -1;
		if(r->type != REDIS_REPLY_STRING || r->len >= sizeof(_sha[i])) {
			freeReplyObject(r);
			sbct_redis_fail("SCRIPT LOAD", "unexpected reply");
			return -1;
		}
		memcpy(_sha[i], r->str, r->len);
		_sha[i][r->len] = '\0';
		freeReplyObject(r);
	}
	return 0;
}

/* 1 when this process has a working connection (opens one if due) */
static int sbct_redis_up(void)
{
	struct timeval tv;
	redisReply *r;

	if(_rc)
		return 1;
	if(sbct_mono_ms() < _retry_at_ms)
		return 0;
	tv.tv_sec = sbct_cluster_timeout_ms / 1000;
	tv.tv_usec = (sbct_cluster_timeout_ms % 1000) * 1000;
	_rc = redisConnectWithTimeout(_host, _port, tv);
	if(_rc == NULL || _rc->err) {
		sbct_redis_fail("connect", _rc ? _rc->errstr : "out of memory");
		return 0;
	}
	redisSetTimeout(_rc, tv);
	if(_pass[0]) {
		r = sbct_cmd_ok("AUTH", redisCommand(_rc, "AUTH %s", _pass));
		if(r == NULL)
			return 0;
		freeReplyObject(r);
	}
	if(_db > 0) {
		r = sbct_cmd_ok("SELECT", redisCommand(_rc, "SELECT %d", _db));
		if(r == NULL)
			return 0;
		freeReplyObject(r);
	}
	if(sbct_load_scripts() < 0)
		return 0;
	if(_fail_streak > 0)
		LM_NOTICE("cluster redis %s:%d works again after %u failures\n",
				_host, _port, _fail_streak);
	_fail_streak = 0;
	return 1;
}

/* EVALSHA of script i; loads the scripts again once if Redis lost them
 * (a restart); NULL on failure */
static redisReply *sbct_eval(
		int i, int argc, const char **argv, size_t *lens)
{
	redisReply *r;

	argv[0] = "EVALSHA";
	lens[0] = 7;
	argv[1] = _sha[i];
	lens[1] = strlen(_sha[i]);
	r = redisCommandArgv(_rc, argc, argv, lens);
	if(r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
		freeReplyObject(r);
		if(sbct_load_scripts() < 0)
			return NULL;
		argv[1] = _sha[i];
		lens[1] = strlen(_sha[i]);
		r = redisCommandArgv(_rc, argc, argv, lens);
	}
	return sbct_cmd_ok("EVALSHA", r);
}

static int sbct_key(char *buf, const char *what, uint32_t tid)
{
	int n = snprintf(buf, SBCT_KEY_LEN, "%.*s:%s:%u", sbct_cluster_prefix.len,
			sbct_cluster_prefix.s, what, tid);
	return (n > 0 && n < SBCT_KEY_LEN) ? n : -1;
}

/* ---- init ------------------------------------------------------------------ */

int sbct_cluster_mod_init(void)
{
	char host[128];
	struct timeval tv;

	if(sbct_cluster_redis_url.s == NULL || sbct_cluster_redis_url.len <= 0)
		return 0;
	if(sbct_cluster_lease_s < 3 || sbct_cluster_timeout_ms < 1
			|| sbct_cluster_prefix.len <= 0 || sbct_cluster_prefix.len > 64) {
		LM_ERR("cluster_lease must be >= 3 s, cluster_timeout_ms >= 1 and"
			   " cluster_prefix 1 to 64 bytes\n");
		return -1;
	}
	if(sbct_parse_url() < 0)
		return -1;
	_sc = shm_malloc(sizeof(*_sc));
	if(_sc == NULL) {
		SHM_MEM_ERROR;
		return -1;
	}
	memset(_sc, 0, sizeof(*_sc));
	if(lock_init(&_sc->lock) == NULL) {
		LM_ERR("cannot init the cluster lock\n");
		return -1;
	}
	sbct_lease_list_init(&_sc->leases);
	if(sbct_node_id.len <= 0) {
		if(gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "node");
		host[sizeof(host) - 1] = '\0';
		sbct_node_id.s = pkg_malloc(strlen(host) + 1);
		if(sbct_node_id.s == NULL) {
			PKG_MEM_ERROR;
			return -1;
		}
		strcpy(sbct_node_id.s, host);
		sbct_node_id.len = strlen(host);
	}
	gettimeofday(&tv, NULL);
	snprintf(_sc->owner, sizeof(_sc->owner), "%.*s/%lld", sbct_node_id.len,
			sbct_node_id.s,
			(long long)tv.tv_sec * 1000 + tv.tv_usec / 1000);
	if(register_basic_timers(1) < 0) {
		LM_ERR("cannot register the cluster lease process\n");
		return -1;
	}
	LM_INFO("limits across the cluster in redis %s:%d db %d (keys %.*s:*),"
			" node %s, leases %d s\n",
			_host, _port, _db, sbct_cluster_prefix.len, sbct_cluster_prefix.s,
			_sc->owner, sbct_cluster_lease_s);
	return 0;
}

void sbct_cluster_destroy(void)
{
	if(_sc) {
		lock_destroy(&_sc->lock);
		shm_free(_sc);
		_sc = NULL;
	}
}

/* ---- the check ------------------------------------------------------------- */

int sbct_cluster_acquire(uint32_t tenant_id, const char *member, int len,
		int32_t max_calls, int32_t max_cps)
{
	char kc[SBCT_KEY_LEN], kb[SBCT_KEY_LEN], smax[16], scps[16], slease[16];
	const char *argv[9];
	size_t lens[9];
	redisReply *r;
	long long code = 0;

	if(len <= 0 || len > SBCT_LEASE_MEMBER_MAX
			|| sbct_key(kc, "calls", tenant_id) < 0
			|| sbct_key(kb, "cps", tenant_id) < 0 || !sbct_redis_up()) {
		ADD(&_sc->checks_local, 1);
		return SBCT_CLUSTER_DOWN;
	}
	snprintf(smax, sizeof(smax), "%d", max_calls > 0 ? max_calls : 0);
	snprintf(scps, sizeof(scps), "%d", max_cps > 0 ? max_cps : 0);
	snprintf(slease, sizeof(slease), "%d", sbct_cluster_lease_s * 1000);
	argv[2] = "2";
	lens[2] = 1;
	argv[3] = kc;
	lens[3] = strlen(kc);
	argv[4] = kb;
	lens[4] = strlen(kb);
	argv[5] = member;
	lens[5] = (size_t)len;
	argv[6] = smax;
	lens[6] = strlen(smax);
	argv[7] = scps;
	lens[7] = strlen(scps);
	argv[8] = slease;
	lens[8] = strlen(slease);
	r = sbct_eval(SBCT_LUA_ACQUIRE, 9, argv, lens);
	if(r == NULL) {
		ADD(&_sc->checks_local, 1);
		return SBCT_CLUSTER_DOWN;
	}
	if(r->type == REDIS_REPLY_ARRAY && r->elements == 2
			&& r->element[0]->type == REDIS_REPLY_INTEGER)
		code = r->element[0]->integer;
	freeReplyObject(r);
	ADD(&_sc->checks_redis, 1);
	switch(code) {
		case 1:
			return SBCT_LIMIT_OK;
		case -1:
			return SBCT_LIMIT_CALLS;
		case -2:
			return SBCT_LIMIT_CPS;
	}
	LM_ERR("unexpected reply of the cluster check script\n");
	return SBCT_CLUSTER_DOWN;
}

/* ---- leases ---------------------------------------------------------------- */

sbct_lease_t *sbct_lease_new(
		sbct_counter_t *c, uint32_t tenant_id, const char *member, int len)
{
	void *mem;

	if(len < 0 || len > SBCT_LEASE_MEMBER_MAX)
		len = 0;
	mem = shm_malloc(sbct_lease_size((uint32_t)len));
	if(mem == NULL) {
		SHM_MEM_ERROR;
		return NULL;
	}
	return sbct_lease_init(mem, c, tenant_id, member, (uint32_t)len);
}

void sbct_lease_free(sbct_lease_t *e)
{
	if(e == NULL)
		return;
	if(_sc && e->linked) {
		lock_get(&_sc->lock);
		sbct_lease_unlink(&_sc->leases, e);
		lock_release(&_sc->lock);
	}
	shm_free(e);
}

void sbct_cluster_track(sbct_lease_t *e)
{
	if(_sc == NULL || e->len == 0)
		return;
	lock_get(&_sc->lock);
	sbct_lease_link(&_sc->leases, e);
	lock_release(&_sc->lock);
}

static int sbct_zrem(uint32_t tenant_id, const char *member, int len)
{
	char kc[SBCT_KEY_LEN];
	redisReply *r;

	if(sbct_key(kc, "calls", tenant_id) < 0 || !sbct_redis_up())
		return -1;
	r = sbct_cmd_ok("ZREM", redisCommand(_rc, "ZREM %s %b", kc, member,
									(size_t)len));
	if(r == NULL)
		return -1;
	freeReplyObject(r);
	return 0;
}

void sbct_cluster_release(sbct_lease_t *e)
{
	int linked;

	if(_sc == NULL || e->len == 0)
		return;
	lock_get(&_sc->lock);
	linked = e->linked;
	sbct_lease_unlink(&_sc->leases, e);
	lock_release(&_sc->lock);
	if(!linked)
		return;
	ADD(&_sc->releases, 1);
	/* Redis unreachable: the lease runs out by itself */
	sbct_zrem(e->tenant_id, e->member, (int)e->len);
}

int sbct_cluster_forget(uint32_t tenant_id, const char *member, int len)
{
	if(_sc == NULL || len <= 0 || len > SBCT_LEASE_MEMBER_MAX)
		return -1;
	return sbct_zrem(tenant_id, member, len);
}

int sbct_cluster_release_member(uint32_t tenant_id, const char *member, int len)
{
	if(sbct_cluster_forget(tenant_id, member, len) < 0)
		return -1;
	ADD(&_sc->remote_releases, 1);
	return 0;
}

long long sbct_cluster_tenant_calls(uint32_t tenant_id)
{
	char kc[SBCT_KEY_LEN];
	const char *argv[4];
	size_t lens[4];
	redisReply *r;
	long long n = -1;

	if(_sc == NULL || sbct_key(kc, "calls", tenant_id) < 0 || !sbct_redis_up())
		return -1;
	argv[2] = "1";
	lens[2] = 1;
	argv[3] = kc;
	lens[3] = strlen(kc);
	r = sbct_eval(SBCT_LUA_COUNT, 4, argv, lens);
	if(r == NULL)
		return -1;
	if(r->type == REDIS_REPLY_INTEGER)
		n = r->integer;
	freeReplyObject(r);
	return n;
}

/* ---- the refresh process ------------------------------------------------- */

typedef struct sbct_refresh_item
{
	uint32_t tid;
	uint32_t len;
	char member[SBCT_LEASE_MEMBER_MAX + 1];
	char key[SBCT_KEY_LEN];
} sbct_refresh_item_t;

static int sbct_refresh_send(sbct_refresh_item_t *it, int n)
{
	const char *argv[3 + 1 + 2 * SBCT_REFRESH_BATCH];
	size_t lens[3 + 1 + 2 * SBCT_REFRESH_BATCH];
	char nkeys[16], slease[16];
	redisReply *r;
	int i, a;

	snprintf(nkeys, sizeof(nkeys), "%d", n);
	snprintf(slease, sizeof(slease), "%d", sbct_cluster_lease_s * 1000);
	argv[2] = nkeys;
	lens[2] = strlen(nkeys);
	a = 3;
	for(i = 0; i < n; i++) {
		argv[a] = it[i].key;
		lens[a++] = strlen(it[i].key);
	}
	argv[a] = slease;
	lens[a++] = strlen(slease);
	for(i = 0; i < n; i++) {
		argv[a] = it[i].member;
		lens[a++] = it[i].len;
	}
	r = sbct_eval(SBCT_LUA_REFRESH, a, argv, lens);
	if(r == NULL)
		return -1;
	freeReplyObject(r);
	ADD(&_sc->refreshed, (unsigned long)n);
	return 0;
}

/* every lease/3 s: the leases of this node's live calls get a new expiry
 * (and come back if Redis lost them) */
static void sbct_cluster_tick(unsigned int ticks, void *param)
{
	static sbct_refresh_item_t *it = NULL;
	sbct_lease_t *batch[SBCT_REFRESH_BATCH];
	int n, i, ok = 1;

	(void)ticks;
	(void)param;
	if(it == NULL) {
		it = pkg_malloc(sizeof(*it) * SBCT_REFRESH_BATCH);
		if(it == NULL) {
			PKG_MEM_ERROR;
			return;
		}
	}
	if(!sbct_redis_up())
		return;
	lock_get(&_sc->lock);
	sbct_lease_walk_begin(&_sc->leases, &_sc->cursor);
	lock_release(&_sc->lock);
	for(;;) {
		lock_get(&_sc->lock);
		n = sbct_lease_walk_next(
				&_sc->leases, &_sc->cursor, batch, SBCT_REFRESH_BATCH);
		for(i = 0; i < n; i++) {
			it[i].tid = batch[i]->tenant_id;
			it[i].len = batch[i]->len;
			memcpy(it[i].member, batch[i]->member, batch[i]->len + 1);
		}
		lock_release(&_sc->lock);
		if(n == 0)
			break;
		for(i = 0; i < n; i++)
			sbct_key(it[i].key, "calls", it[i].tid);
		if(sbct_refresh_send(it, n) < 0) {
			ok = 0;
			break;
		}
	}
	lock_get(&_sc->lock);
	sbct_lease_walk_end(&_sc->leases, &_sc->cursor);
	lock_release(&_sc->lock);
	if(ok)
		ADD(&_sc->refreshes, 1);
}

int sbct_cluster_child_init(int rank)
{
	int interval;

	if(_sc == NULL || rank != PROC_MAIN)
		return 0;
	interval = sbct_cluster_lease_s / 3;
	if(fork_basic_timer(PROC_TIMER, "SBC_TENANT CLUSTER LEASES", 0,
			   sbct_cluster_tick, NULL, interval)
			< 0) {
		LM_ERR("cannot start the cluster lease process\n");
		return -1;
	}
	return 0;
}

/* ---- reports ---------------------------------------------------------------- */

unsigned long sbct_cluster_fallback_checks(void)
{
	return _sc ? GET(&_sc->checks_local) : 0;
}

unsigned long sbct_cluster_redis_errors(void)
{
	return _sc ? GET(&_sc->redis_errors) : 0;
}

void sbct_cluster_rpc_stats(rpc_t *rpc, void *th)
{
	void *sub;
	uint32_t leases;

	if(rpc->struct_add(th, "{", "cluster", &sub) < 0)
		return;
	if(_sc == NULL) {
		rpc->struct_add(sub, "d", "enabled", 0);
		return;
	}
	lock_get(&_sc->lock);
	leases = _sc->leases.count;
	lock_release(&_sc->lock);
	rpc->struct_add(sub, "dssdduJJJJJJJ", "enabled", 1, "node", _sc->owner,
			"redis", _host, "redis_port", _port, "redis_up", sbct_redis_up(),
			"leases", leases, "checks_redis",
			(unsigned long long)GET(&_sc->checks_redis), "checks_fallback",
			(unsigned long long)GET(&_sc->checks_local), "redis_errors",
			(unsigned long long)GET(&_sc->redis_errors), "refreshes",
			(unsigned long long)GET(&_sc->refreshes), "leases_refreshed",
			(unsigned long long)GET(&_sc->refreshed), "releases",
			(unsigned long long)GET(&_sc->releases), "remote_releases",
			(unsigned long long)GET(&_sc->remote_releases));
}
