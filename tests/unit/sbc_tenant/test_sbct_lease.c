/*
 * cmocka tests of the list of this node's cluster leases
 * (src/modules/sbc_tenant/sbct_lease.c): linking, unlinking, and the
 * refresh walk with leases coming and going between its steps.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sbct_lease.h"

static sbct_lease_t *new_lease(uint32_t tid, const char *member)
{
	uint32_t len = (uint32_t)strlen(member);
	sbct_lease_t *e = sbct_lease_init(
			malloc(sbct_lease_size(len)), NULL, tid, member, len);

	assert_non_null(e);
	return e;
}

/* every lease a whole walk returns, batches of max */
static int walk_all(sbct_lease_list_t *l, sbct_lease_t **seen, int max)
{
	sbct_link_t cursor;
	int n = 0, k;

	sbct_lease_walk_begin(l, &cursor);
	while((k = sbct_lease_walk_next(l, &cursor, seen + n, max)) > 0)
		n += k;
	sbct_lease_walk_end(l, &cursor);
	return n;
}

static void test_init(void **state)
{
	char big[SBCT_LEASE_MEMBER_MAX + 2];
	sbct_lease_t *e;
	void *mem;

	(void)state;
	e = new_lease(7, "abc@host");
	assert_int_equal(e->tenant_id, 7);
	assert_int_equal(e->len, 8);
	assert_string_equal(e->member, "abc@host");
	assert_int_equal(e->linked, 0);
	assert_int_equal(e->released, 0);
	free(e);
	memset(big, 'x', sizeof(big));
	mem = malloc(sbct_lease_size(sizeof(big)));
	assert_null(sbct_lease_init(mem, NULL, 1, big, sizeof(big)));
	free(mem);
	e = sbct_lease_init(malloc(sbct_lease_size(SBCT_LEASE_MEMBER_MAX)), NULL,
			1, big, SBCT_LEASE_MEMBER_MAX);
	assert_non_null(e);
	assert_int_equal(strlen(e->member), SBCT_LEASE_MEMBER_MAX);
	free(e);
}

static void test_link_unlink(void **state)
{
	sbct_lease_list_t l;
	sbct_lease_t *a = new_lease(1, "a"), *b = new_lease(1, "b"),
				 *c = new_lease(2, "c"), *seen[8];

	(void)state;
	sbct_lease_list_init(&l);
	assert_int_equal(walk_all(&l, seen, 4), 0);
	sbct_lease_link(&l, a);
	sbct_lease_link(&l, b);
	sbct_lease_link(&l, c);
	sbct_lease_link(&l, b); /* twice: no-op */
	assert_int_equal(l.count, 3);
	assert_int_equal(walk_all(&l, seen, 8), 3);
	assert_ptr_equal(seen[0], a);
	assert_ptr_equal(seen[1], b);
	assert_ptr_equal(seen[2], c);
	sbct_lease_unlink(&l, b);
	sbct_lease_unlink(&l, b); /* twice: no-op */
	assert_int_equal(l.count, 2);
	assert_int_equal(b->linked, 0);
	assert_int_equal(walk_all(&l, seen, 1), 2);
	assert_ptr_equal(seen[0], a);
	assert_ptr_equal(seen[1], c);
	sbct_lease_unlink(&l, a);
	sbct_lease_unlink(&l, c);
	assert_int_equal(l.count, 0);
	assert_ptr_equal(l.head.next, &l.head);
	assert_ptr_equal(l.head.prev, &l.head);
	free(a);
	free(b);
	free(c);
}

/* a walk in steps of 2 while leases are unlinked (ahead of the cursor, the
 * one just returned) and linked: every lease present for the whole walk is
 * returned once, new ones are returned too, gone ones are not */
static void test_walk_with_changes(void **state)
{
	sbct_lease_list_t l;
	sbct_lease_t *e[10], *late, *out[4], *all[16];
	sbct_link_t cursor;
	char name[16];
	int i, k, got[10] = {0}, got_late = 0;

	(void)state;
	sbct_lease_list_init(&l);
	for(i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		e[i] = new_lease((uint32_t)i, name);
		sbct_lease_link(&l, e[i]);
	}
	late = new_lease(99, "late");
	sbct_lease_walk_begin(&l, &cursor);
	k = sbct_lease_walk_next(&l, &cursor, out, 2);
	assert_int_equal(k, 2);
	assert_ptr_equal(out[0], e[0]);
	assert_ptr_equal(out[1], e[1]);
	got[0] = got[1] = 1;
	sbct_lease_unlink(&l, e[1]); /* the one just returned */
	sbct_lease_unlink(&l, e[3]); /* ahead of the cursor */
	sbct_lease_unlink(&l, e[0]); /* behind it */
	sbct_lease_link(&l, late);
	while((k = sbct_lease_walk_next(&l, &cursor, out, 2)) > 0) {
		for(i = 0; i < k; i++) {
			if(out[i] == late) {
				got_late++;
				continue;
			}
			assert_true(out[i]->tenant_id < 10);
			got[out[i]->tenant_id]++;
		}
	}
	sbct_lease_walk_end(&l, &cursor);
	assert_int_equal(got_late, 1);
	for(i = 0; i < 10; i++)
		assert_int_equal(got[i], i == 3 ? 0 : 1);
	assert_int_equal(l.count, 8);
	/* the cursor is gone: a new walk sees the 8 leases, nothing else */
	assert_int_equal(walk_all(&l, all, 3), 8);
	for(i = 0; i < 10; i++)
		free(e[i]);
	free(late);
}

/* two walks at once (RPC listing and the refresh): each skips the other's
 * cursor */
static void test_two_walks(void **state)
{
	sbct_lease_list_t l;
	sbct_lease_t *e[5], *out[8];
	sbct_link_t c1, c2;
	char name[16];
	int i, n1 = 0, n2 = 0, k;

	(void)state;
	sbct_lease_list_init(&l);
	for(i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "w%d", i);
		e[i] = new_lease(1, name);
		sbct_lease_link(&l, e[i]);
	}
	sbct_lease_walk_begin(&l, &c1);
	n1 += sbct_lease_walk_next(&l, &c1, out, 2);
	sbct_lease_walk_begin(&l, &c2);
	while((k = sbct_lease_walk_next(&l, &c2, out, 1)) > 0)
		n2 += k;
	while((k = sbct_lease_walk_next(&l, &c1, out, 8)) > 0)
		n1 += k;
	sbct_lease_walk_end(&l, &c2);
	sbct_lease_walk_end(&l, &c1);
	assert_int_equal(n1, 5);
	assert_int_equal(n2, 5);
	assert_int_equal(l.count, 5);
	for(i = 0; i < 5; i++)
		free(e[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test(test_init),
			cmocka_unit_test(test_link_unlink),
			cmocka_unit_test(test_walk_with_changes),
			cmocka_unit_test(test_two_walks),
	};

	return cmocka_run_group_tests_name("sbct_lease", tests, NULL, NULL);
}
