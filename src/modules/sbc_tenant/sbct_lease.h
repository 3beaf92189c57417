/*
 * sbc_tenant - the calls of this node holding a lease in the cluster's
 * Redis (pure C, no Kamailio)
 *
 * With limits across a cluster (cluster_redis_url) every call a node lets
 * through holds a lease in Redis (a member of its tenant's set, expiring
 * unless refreshed), and the node keeps the call here until it ends: a
 * timer walks the list and refreshes the leases of the node's live calls,
 * so a dead node's leases run out and a Redis that lost its data gets them
 * back. The list is doubly linked; a walk uses a cursor entry linked into
 * the list, so entries can come and go between two steps of the walk (the
 * caller holds its lock during each call, not for the whole walk).
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 */

#ifndef _SBCT_LEASE_H_
#define _SBCT_LEASE_H_

#include <stddef.h>
#include <stdint.h>

#include "sbct_limits.h"

/* longest Call-ID that gets a lease; longer ones are counted locally */
#define SBCT_LEASE_MEMBER_MAX 255

typedef struct sbct_link
{
	struct sbct_link *prev, *next;
	int cursor; /* 1: a walk's cursor, not a lease */
} sbct_link_t;

/* one call: the dialog callbacks' parameter too (sbct_check.c) */
typedef struct sbct_lease
{
	sbct_link_t link;		 /* first: a link is its lease */
	int linked;				 /* in the list */
	int released;			 /* the call gave its slot back (atomic) */
	sbct_counter_t *counter; /* the tenant's counters on this node */
	uint32_t tenant_id;
	uint32_t len;
	char member[]; /* the Call-ID, NUL terminated */
} sbct_lease_t;

typedef struct sbct_lease_list
{
	sbct_link_t head;
	uint32_t count; /* leases (cursors not counted) */
} sbct_lease_list_t;

/* bytes of a lease for a member of len bytes */
size_t sbct_lease_size(uint32_t len);
/* fills a lease (mem: sbct_lease_size(len) bytes); NULL if len is over
 * SBCT_LEASE_MEMBER_MAX */
sbct_lease_t *sbct_lease_init(void *mem, sbct_counter_t *counter,
		uint32_t tenant_id, const char *member, uint32_t len);

void sbct_lease_list_init(sbct_lease_list_t *l);
/* at the tail */
void sbct_lease_link(sbct_lease_list_t *l, sbct_lease_t *e);
/* no-op when not linked */
void sbct_lease_unlink(sbct_lease_list_t *l, sbct_lease_t *e);

/* a walk: begin puts the cursor first; next returns up to max leases
 * after the cursor in out[] (valid while the caller holds its lock) and
 * moves the cursor past them, 0 at the end; end unlinks the cursor.
 * Leases linked during a walk are visited by it (they go to the tail). */
void sbct_lease_walk_begin(sbct_lease_list_t *l, sbct_link_t *cursor);
int sbct_lease_walk_next(sbct_lease_list_t *l, sbct_link_t *cursor,
		sbct_lease_t **out, int max);
void sbct_lease_walk_end(sbct_lease_list_t *l, sbct_link_t *cursor);

#endif
