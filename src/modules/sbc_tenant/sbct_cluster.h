/*
 * sbc_tenant - per-tenant limits across a cluster of SBC nodes (Redis)
 *
 * With cluster_redis_url set, max_calls and max_cps hold for all the nodes
 * sharing that Redis, not per node:
 *   - a call holds a lease: a member (its Call-ID) of the sorted set
 *     <prefix>:calls:<tenant id>, scored with its expiry; the set's size is
 *     the tenant's live calls in the cluster;
 *   - calls per second: one GCRA token bucket per tenant in Redis,
 *     <prefix>:cps:<tenant id> (the theoretical arrival time, microseconds);
 *   - the check is one Lua script (drop expired leases, count, check the
 *     bucket, add the lease), so two nodes checking at once never both get
 *     the last slot; time is Redis' own clock (TIME), not the nodes';
 *   - every node refreshes the leases of its live calls (a timer process,
 *     every lease/3 s) and removes a call's lease when its dialog ends, so
 *     the calls of a dead node stop counting cluster_lease s after it died;
 *   - when this node cannot reach Redis, calls are checked against the
 *     node's own counters with the full limits (the fallback), and get
 *     their lease at the next refresh once Redis is back.
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 */

#ifndef _SBCT_CLUSTER_H_
#define _SBCT_CLUSTER_H_

#include <stdint.h>

#include "../../core/rpc.h"
#include "../../core/str.h"

#include "sbct_lease.h"

/* sbct_cluster_acquire(): Redis could not be asked */
#define SBCT_CLUSTER_DOWN (-10)

extern str sbct_cluster_redis_url; /* modparams */
extern str sbct_cluster_prefix;
extern str sbct_node_id;
extern int sbct_cluster_lease_s;
extern int sbct_cluster_timeout_ms;

/* mod_init: parse the URL, shared state, the refresh process */
int sbct_cluster_mod_init(void);
int sbct_cluster_child_init(int rank);
void sbct_cluster_destroy(void);
int sbct_cluster_enabled(void);

/* node_id/start time: who bound a dialog (a restarted node is another) */
const char *sbct_cluster_owner(void);

/* the check of one call in Redis: SBCT_LIMIT_OK (the lease is taken),
 * SBCT_LIMIT_CALLS, SBCT_LIMIT_CPS or SBCT_CLUSTER_DOWN */
int sbct_cluster_acquire(uint32_t tenant_id, const char *member, int len,
		int32_t max_calls, int32_t max_cps);

/* a call's lease entry in shm (len 0: no member, not for the cluster) */
sbct_lease_t *sbct_lease_new(
		sbct_counter_t *c, uint32_t tenant_id, const char *member, int len);
/* frees it, out of the refresh list first */
void sbct_lease_free(sbct_lease_t *e);
/* the call holds a lease: refresh it until released */
void sbct_cluster_track(sbct_lease_t *e);
/* the call ended on this node: out of the refresh list, lease removed */
void sbct_cluster_release(sbct_lease_t *e);
/* removes a lease this node took but did not keep (the call was not
 * bound to its dialog); 0 or -1 */
int sbct_cluster_forget(uint32_t tenant_id, const char *member, int len);
/* the call of another node ended here (a replicated dialog): remove its
 * lease; 0 or -1 */
int sbct_cluster_release_member(
		uint32_t tenant_id, const char *member, int len);

/* live calls of a tenant in the cluster (leases not expired), -1 unknown */
long long sbct_cluster_tenant_calls(uint32_t tenant_id);
/* the "cluster" part of sbc_tenant.stats */
void sbct_cluster_rpc_stats(rpc_t *rpc, void *th);

/* statistics counters */
unsigned long sbct_cluster_fallback_checks(void);
unsigned long sbct_cluster_redis_errors(void);

#endif
