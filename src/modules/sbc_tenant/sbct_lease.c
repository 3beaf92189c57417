/*
 * sbc_tenant - the calls of this node holding a lease in the cluster's
 * Redis (pure C, no Kamailio). See sbct_lease.h.
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 */

#include <string.h>

#include "sbct_lease.h"

size_t sbct_lease_size(uint32_t len)
{
	return sizeof(sbct_lease_t) + (size_t)len + 1;
}

sbct_lease_t *sbct_lease_init(void *mem, sbct_counter_t *counter,
		uint32_t tenant_id, const char *member, uint32_t len)
{
	sbct_lease_t *e = mem;

	if(mem == NULL || len > SBCT_LEASE_MEMBER_MAX)
		return NULL;
	memset(e, 0, sizeof(*e));
	e->counter = counter;
	e->tenant_id = tenant_id;
	e->len = len;
	memcpy(e->member, member, len);
	e->member[len] = '\0';
	return e;
}

void sbct_lease_list_init(sbct_lease_list_t *l)
{
	l->head.prev = l->head.next = &l->head;
	l->head.cursor = 1;
	l->count = 0;
}

static void link_before(sbct_link_t *at, sbct_link_t *n)
{
	n->prev = at->prev;
	n->next = at;
	at->prev->next = n;
	at->prev = n;
}

static void link_out(sbct_link_t *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = NULL;
}

void sbct_lease_link(sbct_lease_list_t *l, sbct_lease_t *e)
{
	if(e->linked)
		return;
	e->link.cursor = 0;
	link_before(&l->head, &e->link);
	e->linked = 1;
	l->count++;
}

void sbct_lease_unlink(sbct_lease_list_t *l, sbct_lease_t *e)
{
	if(!e->linked)
		return;
	link_out(&e->link);
	e->linked = 0;
	l->count--;
}

void sbct_lease_walk_begin(sbct_lease_list_t *l, sbct_link_t *cursor)
{
	cursor->cursor = 1;
	/* first = right after the head */
	link_before(l->head.next, cursor);
}

int sbct_lease_walk_next(sbct_lease_list_t *l, sbct_link_t *cursor,
		sbct_lease_t **out, int max)
{
	sbct_link_t *n = cursor->next, *last = cursor;
	int k = 0;

	while(k < max && n != &l->head) {
		if(!n->cursor) {
			out[k++] = (sbct_lease_t *)n;
			last = n;
		}
		n = n->next;
	}
	if(last != cursor) {
		link_out(cursor);
		/* right after the last one returned */
		link_before(last->next, cursor);
	}
	return k;
}

void sbct_lease_walk_end(sbct_lease_list_t *l, sbct_link_t *cursor)
{
	(void)l;
	if(cursor->prev != NULL)
		link_out(cursor);
}
