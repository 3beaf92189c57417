/*
 * sbc_tenant - per-tenant live counters and limits (pure C, no Kamailio)
 *
 * See sbct_limits.h. The table is open addressing with linear probing;
 * slots are claimed with a CAS on their key and never freed (a tenant
 * removed from the database may still have live calls, and tenants are
 * few), so a reader that found a slot can keep using it forever.
 */

#include <string.h>

#include "sbct_limits.h"

struct sbct_counters
{
	uint32_t cap;
	uint32_t used; /* atomic */
	char pad[64 - 2 * sizeof(uint32_t)];
	sbct_counter_t slot[];
};

#define SBCT_KEY(id) ((1ULL << 32) | (uint64_t)(id))

#define LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define ADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_RELAXED)
#define CAS(p, expp, v)                                              \
	__atomic_compare_exchange_n((p), (expp), (v), 0, __ATOMIC_ACQ_REL, \
			__ATOMIC_ACQUIRE)

size_t sbct_counters_mem_size(uint32_t cap)
{
	return sizeof(sbct_counters_t) + (size_t)cap * sizeof(sbct_counter_t);
}

sbct_counters_t *sbct_counters_init(void *mem, uint32_t cap)
{
	sbct_counters_t *t = mem;

	if(mem == NULL || cap == 0)
		return NULL;
	memset(mem, 0, sbct_counters_mem_size(cap));
	t->cap = cap;
	return t;
}

uint32_t sbct_counters_cap(const sbct_counters_t *t)
{
	return t ? t->cap : 0;
}

uint32_t sbct_counters_used(const sbct_counters_t *t)
{
	return t ? LOAD(&t->used) : 0;
}

static inline uint32_t sbct_id_home(uint32_t id, uint32_t cap)
{
	uint64_t h = (uint64_t)id * 0x9e3779b97f4a7c15ULL;
	return (uint32_t)(((h >> 32) * (uint64_t)cap) >> 32);
}

sbct_counter_t *sbct_counter_get(
		sbct_counters_t *t, uint32_t tenant_id, int create)
{
	uint64_t want = SBCT_KEY(tenant_id), k;
	uint32_t i, n;

	if(t == NULL)
		return NULL;
	i = sbct_id_home(tenant_id, t->cap);
	for(n = 0; n < t->cap; n++) {
		k = LOAD(&t->slot[i].key);
		if(k == 0) {
			if(!create)
				return NULL;
			/* claim it; on failure k holds the winner's key */
			if(CAS(&t->slot[i].key, &k, want)) {
				ADD(&t->used, 1);
				return &t->slot[i];
			}
		}
		if(k == want)
			return &t->slot[i];
		if(++i == t->cap)
			i = 0;
	}
	return NULL;
}

sbct_counter_t *sbct_counter_at(sbct_counters_t *t, uint32_t i)
{
	if(t == NULL || i >= t->cap || LOAD(&t->slot[i].key) == 0)
		return NULL;
	return &t->slot[i];
}

int sbct_calls_acquire(sbct_counter_t *c, int32_t max_calls)
{
	int32_t n = LOAD(&c->calls);

	do {
		if(max_calls > 0 && n >= max_calls)
			return SBCT_LIMIT_CALLS;
	} while(!CAS(&c->calls, &n, n + 1));
	return SBCT_LIMIT_OK;
}

void sbct_calls_release(sbct_counter_t *c)
{
	int32_t n = LOAD(&c->calls);

	/* never below zero, whatever a caller does */
	do {
		if(n <= 0)
			return;
	} while(!CAS(&c->calls, &n, n - 1));
}

/* GCRA: emission interval T = 1 s / max_cps, burst tolerance
 * tau = (max_cps - 1) * T, i.e. a full bucket holds max_cps tokens.
 * A call at time now conforms when tat - now <= tau (tat = max(tat,
 * now)); it then moves tat one interval later. */
int sbct_cps_take(sbct_counter_t *c, int32_t max_cps, uint64_t now_ns,
		uint64_t *retry_ns)
{
	uint64_t interval, tau, tat, t;

	if(max_cps <= 0)
		return SBCT_LIMIT_OK;
	interval = SBCT_NS_PER_S / (uint64_t)max_cps;
	tau = interval * (uint64_t)(max_cps - 1);
	tat = LOAD(&c->tat_ns);
	do {
		t = tat > now_ns ? tat : now_ns;
		if(t - now_ns > tau) {
			if(retry_ns)
				*retry_ns = t - now_ns - tau;
			return SBCT_LIMIT_CPS;
		}
	} while(!CAS(&c->tat_ns, &tat, t + interval));
	return SBCT_LIMIT_OK;
}

void sbct_rate_note(sbct_counter_t *c, uint64_t now_ns)
{
	uint64_t sec = (now_ns / SBCT_NS_PER_S) & 0xffffffffULL;
	uint64_t cur = LOAD(&c->win_cur), next;

	for(;;) {
		if((cur >> 32) == sec)
			next = cur + 1;
		else
			next = (sec << 32) | 1;
		if(CAS(&c->win_cur, &cur, next))
			break;
	}
	/* the window that just closed: a reader may briefly miss it */
	if((cur >> 32) != sec)
		STORE(&c->win_prev, cur);
}

int sbct_limits_check(sbct_counter_t *c, int32_t max_calls, int32_t max_cps,
		uint64_t now_ns, uint64_t *retry_ns)
{
	if(sbct_calls_acquire(c, max_calls) != SBCT_LIMIT_OK) {
		ADD(&c->rejected_calls, 1);
		return SBCT_LIMIT_CALLS;
	}
	if(sbct_cps_take(c, max_cps, now_ns, retry_ns) != SBCT_LIMIT_OK) {
		sbct_calls_release(c);
		ADD(&c->rejected_cps, 1);
		return SBCT_LIMIT_CPS;
	}
	sbct_rate_note(c, now_ns);
	ADD(&c->accepted, 1);
	return SBCT_LIMIT_OK;
}

void sbct_limits_count_refusal(sbct_counter_t *c, int rc)
{
	if(rc == SBCT_LIMIT_CALLS)
		ADD(&c->rejected_calls, 1);
	else if(rc == SBCT_LIMIT_CPS)
		ADD(&c->rejected_cps, 1);
}

static uint32_t sbct_win_count(uint64_t w, uint64_t sec)
{
	return (w >> 32) == (sec & 0xffffffffULL) ? (uint32_t)w : 0;
}

void sbct_counter_snapshot(
		const sbct_counter_t *c, uint64_t now_ns, sbct_counter_snap_t *s)
{
	uint64_t sec = now_ns / SBCT_NS_PER_S;
	uint64_t cur = LOAD(&c->win_cur), prev = LOAD(&c->win_prev);

	memset(s, 0, sizeof(*s));
	s->tenant_id = (uint32_t)LOAD(&c->key);
	s->calls = LOAD(&c->calls);
	s->calls_this_second = sbct_win_count(cur, sec);
	s->calls_last_second = sbct_win_count(cur, sec - 1);
	if(s->calls_last_second == 0)
		s->calls_last_second = sbct_win_count(prev, sec - 1);
	s->accepted = LOAD(&c->accepted);
	s->rejected_calls = LOAD(&c->rejected_calls);
	s->rejected_cps = LOAD(&c->rejected_cps);
}
