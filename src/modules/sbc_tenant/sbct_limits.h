/*
 * sbc_tenant - per-tenant live counters and limits (pure C, no Kamailio)
 *
 * One fixed-size table of counters keyed by tenant id, in one block of
 * memory given by the caller (shared memory in the module, malloc in the
 * unit tests). It is separate from the DID index on purpose: an index is
 * replaced on every reload, the counters of live calls are not.
 *
 * Every operation is lock-free (compare-and-swap on single 32/64-bit
 * words), so SIP workers never wait for each other here:
 *   - concurrent calls: a counter that is never raised above max_calls;
 *   - calls per second: a token bucket of max_cps tokens refilled at
 *     max_cps tokens per second, implemented as GCRA (the "virtual
 *     scheduling" form of a token bucket): one 64-bit theoretical arrival
 *     time per tenant, so a check is one CAS and never loses fractions of
 *     a token however often it runs;
 *   - calls accepted per wall second (statistics only).
 * Limits are arguments of each call (read from the live index), so a
 * reload changes them without touching the counters.
 */

#ifndef _SBCT_LIMITS_H_
#define _SBCT_LIMITS_H_

#include <stddef.h>
#include <stdint.h>

/* check results: identical to the cfg/KEMI return codes */
#define SBCT_LIMIT_OK 1
#define SBCT_LIMIT_CALLS (-1)
#define SBCT_LIMIT_CPS (-2)
#define SBCT_LIMIT_NO_TENANT (-3)
#define SBCT_LIMIT_ERROR (-5)

#define SBCT_NS_PER_S 1000000000ULL

/* one tenant's counters: one cache line, so tenants do not share lines */
typedef struct sbct_counter
{
	uint64_t key;	   /* 0 = free slot, else (1 << 32) | tenant id */
	int32_t calls;	   /* live calls holding a slot */
	uint32_t spare;
	uint64_t tat_ns;   /* GCRA theoretical arrival time (monotonic ns) */
	uint64_t win_cur;  /* (second << 32) | calls accepted in that second */
	uint64_t win_prev; /* the window before win_cur */
	uint64_t accepted; /* calls let through */
	uint64_t rejected_calls; /* refused by max_calls */
	uint64_t rejected_cps;	 /* refused by max_cps */
} sbct_counter_t;

typedef struct sbct_counters sbct_counters_t;

/* a copy of one counter for reports */
typedef struct sbct_counter_snap
{
	uint32_t tenant_id;
	int32_t calls;
	uint32_t calls_last_second; /* accepted in the last whole second */
	uint32_t calls_this_second; /* accepted so far in the current second */
	uint64_t accepted;
	uint64_t rejected_calls;
	uint64_t rejected_cps;
} sbct_counter_snap_t;

/* bytes needed for a table of cap slots (cap >= 1) */
size_t sbct_counters_mem_size(uint32_t cap);
/* formats mem (sbct_counters_mem_size(cap) bytes) as an empty table */
sbct_counters_t *sbct_counters_init(void *mem, uint32_t cap);
uint32_t sbct_counters_cap(const sbct_counters_t *t);
uint32_t sbct_counters_used(const sbct_counters_t *t);

/* the counter of a tenant; with create, a free slot is claimed for it.
 * NULL: not there (create == 0) or table full. */
sbct_counter_t *sbct_counter_get(
		sbct_counters_t *t, uint32_t tenant_id, int create);

/* slot i of the table, NULL if free (for listing) */
sbct_counter_t *sbct_counter_at(sbct_counters_t *t, uint32_t i);

/* the whole check for one new call: a concurrent-call slot (max_calls,
 * <= 0 = unlimited), then a token (max_cps, <= 0 = unlimited); the slot
 * is given back when the token is refused, so a call refused for CPS
 * holds nothing. Returns SBCT_LIMIT_OK (the caller now owns one slot and
 * must sbct_calls_release() it exactly once), SBCT_LIMIT_CALLS or
 * SBCT_LIMIT_CPS. retry_ns (may be NULL) gets, for SBCT_LIMIT_CPS, the
 * time until a token is available. now_ns: a monotonic clock. */
int sbct_limits_check(sbct_counter_t *c, int32_t max_calls, int32_t max_cps,
		uint64_t now_ns, uint64_t *retry_ns);

/* a call refused elsewhere (the cluster's Redis) for rc (SBCT_LIMIT_CALLS
 * or SBCT_LIMIT_CPS): counted with this node's refusals */
void sbct_limits_count_refusal(sbct_counter_t *c, int rc);

/* the parts of sbct_limits_check(), for tests and special callers */
int sbct_calls_acquire(sbct_counter_t *c, int32_t max_calls);
void sbct_calls_release(sbct_counter_t *c);
int sbct_cps_take(sbct_counter_t *c, int32_t max_cps, uint64_t now_ns,
		uint64_t *retry_ns);
void sbct_rate_note(sbct_counter_t *c, uint64_t now_ns);

void sbct_counter_snapshot(
		const sbct_counter_t *c, uint64_t now_ns, sbct_counter_snap_t *s);

#endif
