/*
 * sbc_tenant - per-tenant limits for the cfg / KEMI: check_limits()
 */

#ifndef _SBCT_CHECK_H_
#define _SBCT_CHECK_H_

#include <stdint.h>

#include "../../core/parser/msg_parser.h"

#include "sbct_limits.h"

extern int sbct_counters_size; /* modparam: counter slots, 0 = automatic */

/* mod_init, after the initial load: counters table in shm (sized from
 * the tenants loaded), dialog API */
int sbct_check_init(uint32_t tenants);
void sbct_check_destroy(void);

/* checks the limits of the tenant of the last lookup for this initial
 * INVITE; returns SBCT_LIMIT_* (1 ok, -1 max_calls, -2 max_cps, -3 no
 * tenant, -5 error). On 1 the call holds a slot until its dialog ends. */
int sbct_check_limits_msg(sip_msg_t *msg);

/* event_route[dialog:end] with limits across a cluster: the call of
 * another node ended on this one (a replicated dialog), its lease is
 * removed at once. 1: this node's own call (its dialog callbacks release
 * it), 2: another node's lease removed, -1: nothing to do (no cluster, no
 * dialog, a call without lease) or Redis unreachable (the lease runs out) */
int sbct_dialog_end_msg(sip_msg_t *msg);

/* the shared counters (for RPC and statistics), NULL before init */
sbct_counters_t *sbct_counters(void);

/* monotonic clock, the one the token buckets run on */
uint64_t sbct_now_ns(void);

#endif
