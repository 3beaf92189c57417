/*
 * cmocka tests of the sbc_tenant DID index (src/modules/sbc_tenant/sbct_index.c)
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "sbct_index.h"
#include "unit_util.h"

/* ---- allocator: malloc with accounting and optional failure injection */

typedef struct test_mem
{
	long live;		 /* allocations not yet freed */
	long fail_after; /* < 0: never fail; else fail once this many succeeded */
	long count;
} test_mem_t;

static void *t_alloc(size_t size, void *ctx)
{
	test_mem_t *m = ctx;
	void *p;

	if(m->fail_after >= 0 && m->count >= m->fail_after)
		return NULL;
	p = malloc(size);
	if(p) {
		m->count++;
		m->live++;
	}
	return p;
}

static void t_free(void *p, void *ctx)
{
	test_mem_t *m = ctx;

	free(p);
	m->live--;
}

static test_mem_t g_mem;
static sbct_alloc_t g_alloc = {t_alloc, t_free, &g_mem};

static int setup_mem(void **state)
{
	(void)state;
	memset(&g_mem, 0, sizeof(g_mem));
	g_mem.fail_after = -1;
	return 0;
}

static int teardown_mem(void **state)
{
	(void)state;
	assert_int_equal(g_mem.live, 0); /* nothing leaked */
	return 0;
}

/* ---- helpers ---------------------------------------------------------- */

static void add_tenant(sbct_builder_t *b, uint32_t id, const char *name,
		int32_t group, int32_t fallback, int enabled)
{
	sbct_tenant_row_t t;

	memset(&t, 0, sizeof(t));
	t.id = id;
	t.name = name;
	t.name_len = strlen(name);
	t.gateway_group = group;
	t.fallback_group = fallback;
	t.max_calls = 10;
	t.max_cps = 5;
	t.enabled = enabled;
	assert_int_equal(sbct_builder_add_tenant(b, &t), SBCT_ADD_OK);
}

static int add_did_full(sbct_builder_t *b, uint32_t id, const char *did,
		uint32_t tenant, int group, const char *uri, int32_t prio)
{
	sbct_did_row_t r;

	memset(&r, 0, sizeof(r));
	r.id = id;
	r.did = did;
	r.did_len = did ? strlen(did) : 0;
	r.tenant_id = tenant;
	r.has_group = group != -1;
	r.gateway_group = group;
	r.gateway_uri = uri;
	r.gateway_uri_len = uri ? strlen(uri) : 0;
	r.priority = prio;
	return sbct_builder_add_did(b, &r);
}

static void add_did(sbct_builder_t *b, uint32_t id, const char *did,
		uint32_t tenant, int group, const char *uri)
{
	assert_int_equal(add_did_full(b, id, did, tenant, group, uri, 0), 0);
}

/* the standard small index used by most tests */
static sbct_index_t *small_index(sbct_build_stats_t *st)
{
	sbct_builder_t *b = sbct_builder_new(&g_alloc);
	sbct_index_t *idx;

	assert_non_null(b);
	add_tenant(b, 1, "acme", 10, 11, 1);
	add_tenant(b, 2, "globex", 20, 0, 1);
	add_tenant(b, 3, "initech", 30, 31, 0); /* disabled */
	add_did(b, 100, "4930123", 1, -1, NULL);
	add_did(b, 101, "4930*", 2, -1, NULL);
	add_did(b, 102, "49301*", 1, 12, "sip:gw1.example.com");
	add_did(b, 103, "4989*", 3, -1, NULL);
	add_did(b, 104, "+4940555", 2, 21, "sip:gw2.example.com;transport=tcp");
	add_did(b, 105, "4930999", 3, -1, NULL);
	idx = sbct_builder_finish(b, st);
	sbct_builder_free(b);
	assert_non_null(idx);
	return idx;
}

static int lookup(const sbct_index_t *idx, const char *did, sbct_result_t *r)
{
	return sbct_lookup(idx, did, strlen(did), r);
}

/* ---- tests ------------------------------------------------------------ */

static void test_exact_match(void **state)
{
	sbct_result_t r;
	sbct_index_t *idx = small_index(NULL);

	(void)state;
	assert_int_equal(lookup(idx, "4930123", &r), SBCT_EXACT);
	assert_int_equal(r.code, SBCT_EXACT);
	assert_int_equal(r.is_prefix, 0);
	assert_int_equal(r.tenant_id, 1);
	assert_int_equal(r.tenant_len, 4);
	assert_memory_equal(r.tenant, "acme", 4);
	assert_int_equal(r.gateway_group, 10);
	assert_int_equal(r.fallback_group, 11);
	assert_null(r.gateway_uri);
	assert_string_equal(r.did, "4930123");
	assert_string_equal(r.pattern, "4930123");
	assert_int_equal(r.pattern_len, 7);
	sbct_index_free(idx, &g_alloc);
}

static void test_prefix_match(void **state)
{
	sbct_result_t r;
	sbct_index_t *idx = small_index(NULL);

	(void)state;
	assert_int_equal(lookup(idx, "4930777", &r), SBCT_PREFIX);
	assert_int_equal(r.is_prefix, 1);
	assert_int_equal(r.tenant_id, 2);
	assert_string_equal(r.pattern, "4930*");
	assert_string_equal(r.did, "4930777");
	assert_int_equal(r.gateway_group, 20);
	assert_int_equal(r.fallback_group, 0);
	/* a prefix also matches a DID of exactly its own length */
	assert_int_equal(lookup(idx, "4930", &r), SBCT_PREFIX);
	assert_string_equal(r.pattern, "4930*");
	assert_int_equal(lookup(idx, "493", &r), SBCT_NOT_FOUND);
	assert_int_equal(lookup(idx, "5930777", &r), SBCT_NOT_FOUND);
	assert_string_equal(r.did, "5930777");
	sbct_index_free(idx, &g_alloc);
}

static void test_longest_prefix_wins(void **state)
{
	sbct_result_t r;
	sbct_index_t *idx = small_index(NULL);

	(void)state;
	assert_int_equal(lookup(idx, "4930155", &r), SBCT_PREFIX);
	assert_string_equal(r.pattern, "49301*");
	assert_int_equal(r.tenant_id, 1);
	assert_int_equal(lookup(idx, "4930255", &r), SBCT_PREFIX);
	assert_string_equal(r.pattern, "4930*");
	sbct_index_free(idx, &g_alloc);
}

static void test_exact_beats_prefix(void **state)
{
	sbct_result_t r;
	sbct_index_t *idx = small_index(NULL);

	(void)state;
	/* 4930123 is under 49301* (tenant 1, group 12) and exact (group 10) */
	assert_int_equal(lookup(idx, "4930123", &r), SBCT_EXACT);
	assert_int_equal(r.gateway_group, 10);
	assert_string_equal(r.pattern, "4930123");
	sbct_index_free(idx, &g_alloc);
}

static void test_catch_all(void **state)
{
	sbct_result_t r;
	sbct_builder_t *b = sbct_builder_new(&g_alloc);
	sbct_index_t *idx;

	(void)state;
	add_tenant(b, 1, "acme", 10, 0, 1);
	add_tenant(b, 2, "default", 99, 0, 1);
	add_did(b, 1, "4930*", 1, -1, NULL);
	add_did(b, 2, "*", 2, -1, NULL);
	assert_int_equal(add_did_full(b, 3, "+*", 2, -1, NULL, 0), SBCT_ADD_BAD_DID);
	assert_int_equal(add_did_full(b, 4, "**", 2, -1, NULL, 0), SBCT_ADD_BAD_DID);
	idx = sbct_builder_finish(b, NULL);
	sbct_builder_free(b);
	assert_non_null(idx);
	assert_int_equal(lookup(idx, "4930777", &r), SBCT_PREFIX);
	assert_string_equal(r.pattern, "4930*");
	assert_int_equal(lookup(idx, "1", &r), SBCT_PREFIX);
	assert_string_equal(r.pattern, "*");
	assert_int_equal(r.tenant_id, 2);
	assert_int_equal(lookup(idx, "12345678901234567890123456789012", &r),
			SBCT_PREFIX);
	assert_string_equal(r.pattern, "*");
	/* the catch-all does not make invalid DIDs valid */
	assert_int_equal(lookup(idx, "abc", &r), SBCT_INVALID);
	sbct_index_free(idx, &g_alloc);
}

static void test_plus_normalization(void **state)
{
	sbct_result_t r;
	char out[SBCT_DID_MAX + 1];
	sbct_index_t *idx = small_index(NULL);

	(void)state;
	assert_int_equal(lookup(idx, "+4930123", &r), SBCT_EXACT);
	assert_string_equal(r.did, "4930123");
	assert_int_equal(r.did_len, 7);
	/* pattern stored with '+' matches both and is reported as written */
	assert_int_equal(lookup(idx, "4940555", &r), SBCT_EXACT);
	assert_string_equal(r.pattern, "+4940555");
	assert_int_equal(lookup(idx, "+4940555", &r), SBCT_EXACT);
	assert_int_equal(r.gateway_group, 21);
	assert_non_null(r.gateway_uri);
	assert_int_equal(r.gateway_uri_len, strlen("sip:gw2.example.com;transport=tcp"));
	assert_memory_equal(
			r.gateway_uri, "sip:gw2.example.com;transport=tcp", r.gateway_uri_len);
	/* only one '+' is stripped */
	assert_int_equal(lookup(idx, "++4930123", &r), SBCT_INVALID);
	assert_int_equal(sbct_normalize("+49", 3, out), 2);
	assert_string_equal(out, "49");
	assert_int_equal(sbct_normalize("4+9", 3, out), -1);
	sbct_index_free(idx, &g_alloc);
}

static void test_invalid_dids(void **state)
{
	sbct_result_t r;
	char buf[256];
	sbct_index_t *idx = small_index(NULL);

	(void)state;
	assert_int_equal(sbct_lookup(idx, "", 0, &r), SBCT_INVALID);
	assert_int_equal(r.code, SBCT_INVALID);
	assert_int_equal(r.did_len, 0);
	assert_int_equal(sbct_lookup(idx, NULL, 0, &r), SBCT_INVALID);
	assert_int_equal(lookup(idx, "+", &r), SBCT_INVALID);
	/* 32 digits is the maximum, 33 is invalid */
	memset(buf, '4', 33);
	assert_int_equal(sbct_lookup(idx, buf, 32, &r), SBCT_NOT_FOUND);
	assert_int_equal(r.did_len, 32);
	assert_int_equal(sbct_lookup(idx, buf, 33, &r), SBCT_INVALID);
	assert_int_equal(r.did_len, 0);
	memset(buf, '9', 200);
	assert_int_equal(sbct_lookup(idx, buf, 200, &r), SBCT_INVALID);
	assert_int_equal(lookup(idx, "4930abc", &r), SBCT_INVALID);
	assert_int_equal(lookup(idx, "alice", &r), SBCT_INVALID);
	assert_int_equal(lookup(idx, " 4930123", &r), SBCT_INVALID);
	assert_int_equal(lookup(idx, "4930123*", &r), SBCT_INVALID);
	assert_int_equal(lookup(idx, "4930-123", &r), SBCT_INVALID);
	/* embedded NUL: length-delimited input, must not be cut at the NUL */
	assert_int_equal(sbct_lookup(idx, "4930123\0" "99", 10, &r), SBCT_INVALID);
	assert_int_equal(sbct_lookup(idx, "4930123\0" "99", 7, &r), SBCT_EXACT);
	/* bytes >= 0x80 */
	assert_int_equal(lookup(idx, "4930\xc3\xa9", &r), SBCT_INVALID);
	sbct_index_free(idx, &g_alloc);
}

static uint32_t dup_log[16][2];
static int dup_n;
static void on_dup(uint32_t kept, uint32_t dropped, void *ctx)
{
	(void)ctx;
	if(dup_n < 16) {
		dup_log[dup_n][0] = kept;
		dup_log[dup_n][1] = dropped;
	}
	dup_n++;
}

static int dup_reported(uint32_t kept, uint32_t dropped)
{
	int i;
	for(i = 0; i < dup_n && i < 16; i++)
		if(dup_log[i][0] == kept && dup_log[i][1] == dropped)
			return 1;
	return 0;
}

static void test_duplicate_patterns(void **state)
{
	sbct_result_t r;
	sbct_build_stats_t st;
	sbct_builder_t *b = sbct_builder_new(&g_alloc);
	sbct_index_t *idx;

	(void)state;
	dup_n = 0;
	sbct_builder_set_dup_cb(b, on_dup, NULL);
	add_tenant(b, 1, "a", 1, 0, 1);
	add_tenant(b, 2, "b", 2, 0, 1);
	add_tenant(b, 3, "c", 3, 0, 1);
	/* higher priority wins regardless of order */
	assert_int_equal(add_did_full(b, 10, "111", 1, -1, NULL, 0), 0);
	assert_int_equal(add_did_full(b, 11, "111", 2, -1, NULL, 5), 0);
	assert_int_equal(add_did_full(b, 12, "111", 3, -1, NULL, 1), 0);
	/* equal priority: lower row id wins, even if added later */
	assert_int_equal(add_did_full(b, 21, "222*", 1, -1, NULL, 0), 0);
	assert_int_equal(add_did_full(b, 20, "222*", 2, -1, NULL, 0), 0);
	/* '+' form is the same pattern */
	assert_int_equal(add_did_full(b, 30, "+333", 3, -1, NULL, 0), 0);
	assert_int_equal(add_did_full(b, 31, "333", 1, -1, NULL, 0), 0);
	/* same digits but exact vs prefix are different patterns */
	assert_int_equal(add_did_full(b, 40, "444", 1, -1, NULL, 0), 0);
	assert_int_equal(add_did_full(b, 41, "444*", 2, -1, NULL, 0), 0);
	idx = sbct_builder_finish(b, &st);
	sbct_builder_free(b);
	assert_non_null(idx);
	assert_int_equal(st.duplicates, 4);
	assert_int_equal(dup_n, 4);
	assert_true(dup_reported(11, 10)); /* 111: prio 5 beats 0 */
	assert_true(dup_reported(11, 12)); /* ... and 1 */
	assert_true(dup_reported(20, 21)); /* 222*: same prio, lower id */
	assert_true(dup_reported(30, 31)); /* +333 / 333 */
	assert_int_equal(st.dids, 5);
	assert_int_equal(sbct_index_dids(idx), 5);
	assert_int_equal(lookup(idx, "111", &r), SBCT_EXACT);
	assert_int_equal(r.tenant_id, 2);
	assert_int_equal(lookup(idx, "2229", &r), SBCT_PREFIX);
	assert_int_equal(r.tenant_id, 2);
	assert_int_equal(lookup(idx, "333", &r), SBCT_EXACT);
	assert_int_equal(r.tenant_id, 3);
	assert_string_equal(r.pattern, "+333");
	assert_int_equal(lookup(idx, "444", &r), SBCT_EXACT);
	assert_int_equal(r.tenant_id, 1);
	assert_int_equal(lookup(idx, "4441", &r), SBCT_PREFIX);
	assert_int_equal(r.tenant_id, 2);
	sbct_index_free(idx, &g_alloc);
}

static void test_disabled_tenant(void **state)
{
	sbct_result_t r;
	sbct_index_t *idx = small_index(NULL);

	(void)state;
	assert_int_equal(lookup(idx, "4989123", &r), SBCT_DISABLED);
	assert_int_equal(r.code, SBCT_DISABLED);
	assert_int_equal(r.tenant_id, 3);
	assert_memory_equal(r.tenant, "initech", 7);
	assert_int_equal(r.tenant_enabled, 0);
	assert_int_equal(r.gateway_group, 30);
	assert_int_equal(r.fallback_group, 31);
	assert_string_equal(r.pattern, "4989*");
	assert_int_equal(r.is_prefix, 1);
	/* an exact match on a disabled tenant does not fall back to a prefix */
	assert_int_equal(lookup(idx, "4930999", &r), SBCT_DISABLED);
	assert_string_equal(r.pattern, "4930999");
	assert_int_equal(r.is_prefix, 0);
	sbct_index_free(idx, &g_alloc);
}

static void test_tenant_accessors(void **state)
{
	sbct_tenant_info_t ti;
	sbct_index_t *idx = small_index(NULL);
	uint32_t i, exact, prefixes;

	(void)state;
	assert_int_equal(sbct_index_tenant(idx, 2, &ti), 0);
	assert_int_equal(ti.id, 2);
	assert_int_equal(ti.name_len, 6);
	assert_memory_equal(ti.name, "globex", 6);
	assert_int_equal(ti.gateway_group, 20);
	assert_int_equal(ti.fallback_group, 0);
	assert_int_equal(ti.max_calls, 10);
	assert_int_equal(ti.max_cps, 5);
	assert_int_equal(ti.enabled, 1);
	assert_int_equal(sbct_index_tenant(idx, 3, &ti), 0);
	assert_int_equal(ti.enabled, 0);
	assert_int_equal(sbct_index_tenant(idx, 4, &ti), -1);
	assert_int_equal(sbct_index_tenant(idx, 0, &ti), -1);
	assert_int_equal(sbct_index_tenant(NULL, 1, &ti), -1);
	/* in id order */
	for(i = 0; i < sbct_index_tenants(idx); i++) {
		assert_int_equal(sbct_index_tenant_at(idx, i, &ti), 0);
		assert_int_equal(ti.id, i + 1);
	}
	assert_int_equal(sbct_index_tenant_at(idx, i, &ti), -1);
	sbct_index_counts(idx, &exact, &prefixes);
	assert_int_equal(exact, 3);
	assert_int_equal(prefixes, 3);
	sbct_index_counts(NULL, &exact, &prefixes);
	assert_int_equal(exact + prefixes, 0);
	sbct_index_free(idx, &g_alloc);
}

static void test_group_override(void **state)
{
	sbct_result_t r;
	sbct_index_t *idx = small_index(NULL);

	(void)state;
	/* 49301* has its own group 12 and uri; tenant 1 default is 10 */
	assert_int_equal(lookup(idx, "4930155", &r), SBCT_PREFIX);
	assert_int_equal(r.gateway_group, 12);
	assert_int_equal(r.fallback_group, 11);
	assert_int_equal(r.gateway_uri_len, strlen("sip:gw1.example.com"));
	assert_memory_equal(r.gateway_uri, "sip:gw1.example.com", r.gateway_uri_len);
	assert_int_equal(r.max_calls, 10);
	assert_int_equal(r.max_cps, 5);
	/* same tenant, no override */
	assert_int_equal(lookup(idx, "4930123", &r), SBCT_EXACT);
	assert_int_equal(r.gateway_group, 10);
	assert_null(r.gateway_uri);
	assert_int_equal(r.gateway_uri_len, 0);
	sbct_index_free(idx, &g_alloc);
}

static void test_group_zero_override(void **state)
{
	sbct_result_t r;
	sbct_builder_t *b = sbct_builder_new(&g_alloc);
	sbct_index_t *idx;

	(void)state;
	add_tenant(b, 1, "a", 7, 0, 1);
	add_did(b, 1, "1", 1, 0, "");
	idx = sbct_builder_finish(b, NULL);
	sbct_builder_free(b);
	assert_int_equal(lookup(idx, "1", &r), SBCT_EXACT);
	assert_int_equal(r.gateway_group, 0); /* explicit 0 is an override */
	assert_null(r.gateway_uri);			  /* empty uri = none */
	sbct_index_free(idx, &g_alloc);
}

static void test_bad_rows(void **state)
{
	sbct_builder_t *b = sbct_builder_new(&g_alloc);
	sbct_tenant_row_t t;
	sbct_index_t *idx;
	sbct_build_stats_t st;
	char uri[300];

	(void)state;
	memset(&t, 0, sizeof(t));
	t.id = 5;
	t.name = "neg";
	t.name_len = 3;
	t.gateway_group = -1;
	assert_int_equal(sbct_builder_add_tenant(b, &t), SBCT_ADD_BAD_GROUP);
	t.gateway_group = 1;
	t.name = "";
	t.name_len = 0;
	assert_int_equal(sbct_builder_add_tenant(b, &t), SBCT_ADD_BAD_NAME);
	t.name = "a\0b";
	t.name_len = 3;
	assert_int_equal(sbct_builder_add_tenant(b, &t), SBCT_ADD_BAD_NAME);
	add_tenant(b, 1, "a", 1, 0, 1);
	add_tenant(b, 1, "dup", 1, 0, 1);
	assert_int_equal(add_did_full(b, 1, NULL, 1, -1, NULL, 0), SBCT_ADD_NULL_DID);
	assert_int_equal(add_did_full(b, 2, "49x1", 1, -1, NULL, 0), SBCT_ADD_BAD_DID);
	assert_int_equal(add_did_full(b, 3, "", 1, -1, NULL, 0), SBCT_ADD_BAD_DID);
	assert_int_equal(add_did_full(b, 4, "+", 1, -1, NULL, 0), SBCT_ADD_BAD_DID);
	assert_int_equal(add_did_full(b, 5, "49*1", 1, -1, NULL, 0), SBCT_ADD_BAD_DID);
	assert_int_equal(
			add_did_full(b, 6, "123456789012345678901234567890123", 1, -1, NULL, 0),
			SBCT_ADD_BAD_DID);
	assert_int_equal(add_did_full(b, 7, "49", 9, -1, NULL, 0),
			SBCT_ADD_UNKNOWN_TENANT);
	assert_int_equal(add_did_full(b, 8, "49", 1, -5, NULL, 0), SBCT_ADD_BAD_GROUP);
	memset(uri, 'u', sizeof(uri) - 1);
	uri[sizeof(uri) - 1] = '\0';
	assert_int_equal(add_did_full(b, 9, "49", 1, -1, uri, 0), SBCT_ADD_BAD_URI);
	/* tenants after DID rows are refused */
	t.name = "late";
	t.name_len = 4;
	assert_int_equal(sbct_builder_add_tenant(b, &t), SBCT_ADD_SEALED);
	assert_int_equal(add_did_full(b, 10, "12345678901234567890123456789012*",
							 1, -1, NULL, 0),
			0);
	idx = sbct_builder_finish(b, &st);
	sbct_builder_free(b);
	assert_non_null(idx);
	assert_int_equal(st.tenants, 1);
	assert_int_equal(st.tenant_duplicates, 1);
	assert_int_equal(st.dids, 1);
	assert_string_equal(sbct_add_reason(SBCT_ADD_UNKNOWN_TENANT), "unknown tenant id");
	sbct_index_free(idx, &g_alloc);
}

/* tenants.attrs: kept per tenant, returned by lookups of any of its DIDs
 * (disabled tenant included) and by the tenant accessors; "" when none */
static void test_tenant_attrs(void **state)
{
	static const char attrs[] = "transfer=terminate;refer_allow=^\\+?49[0-9]{6,15}$";
	sbct_builder_t *b = sbct_builder_new(&g_alloc);
	sbct_tenant_row_t t;
	sbct_tenant_info_t ti;
	sbct_result_t r;
	sbct_index_t *idx;
	char big[SBCT_ATTRS_MAX + 2];

	(void)state;
	memset(&t, 0, sizeof(t));
	t.id = 1;
	t.name = "acme";
	t.name_len = 4;
	t.gateway_group = 10;
	t.enabled = 1;
	t.attrs = attrs;
	t.attrs_len = strlen(attrs);
	assert_int_equal(sbct_builder_add_tenant(b, &t), SBCT_ADD_OK);
	/* the same attrs string is stored once */
	t.id = 2;
	t.name = "off";
	t.name_len = 3;
	t.enabled = 0;
	assert_int_equal(sbct_builder_add_tenant(b, &t), SBCT_ADD_OK);
	/* too long, NUL byte: the row is refused */
	t.id = 4;
	t.name = "bad";
	memset(big, 'a', sizeof(big));
	t.attrs = big;
	t.attrs_len = SBCT_ATTRS_MAX + 1;
	assert_int_equal(sbct_builder_add_tenant(b, &t), SBCT_ADD_BAD_ATTRS);
	t.attrs = "a\0b";
	t.attrs_len = 3;
	assert_int_equal(sbct_builder_add_tenant(b, &t), SBCT_ADD_BAD_ATTRS);
	t.attrs_len = SBCT_ATTRS_MAX;
	t.attrs = big;
	t.id = 5;
	t.name = "max";
	assert_int_equal(sbct_builder_add_tenant(b, &t), SBCT_ADD_OK);
	add_tenant(b, 3, "plain", 30, 0, 1);
	add_did(b, 100, "4930123", 1, -1, NULL);
	add_did(b, 101, "4931*", 2, -1, NULL);
	add_did(b, 102, "4932123", 3, -1, NULL);
	idx = sbct_builder_finish(b, NULL);
	sbct_builder_free(b);
	assert_non_null(idx);

	assert_int_equal(lookup(idx, "4930123", &r), SBCT_EXACT);
	assert_int_equal(r.attrs_len, strlen(attrs));
	assert_memory_equal(r.attrs, attrs, r.attrs_len);
	assert_int_equal(lookup(idx, "4931555", &r), SBCT_DISABLED);
	assert_int_equal(r.attrs_len, strlen(attrs));
	assert_memory_equal(r.attrs, attrs, r.attrs_len);
	assert_int_equal(lookup(idx, "4932123", &r), SBCT_EXACT);
	assert_int_equal(r.attrs_len, 0);
	assert_string_equal(r.attrs, "");
	assert_int_equal(lookup(idx, "4939", &r), SBCT_NOT_FOUND);
	assert_int_equal(r.attrs_len, 0);

	assert_int_equal(sbct_index_tenant(idx, 5, &ti), 0);
	assert_int_equal(ti.attrs_len, SBCT_ATTRS_MAX);
	assert_memory_equal(ti.attrs, big, SBCT_ATTRS_MAX);
	assert_int_equal(sbct_index_tenant(idx, 3, &ti), 0);
	assert_int_equal(ti.attrs_len, 0);
	assert_string_equal(sbct_add_reason(SBCT_ADD_BAD_ATTRS),
			"tenant attrs too long or has a NUL byte");
	sbct_index_free(idx, &g_alloc);
}

static void test_long_patterns(void **state)
{
	/* digit 16/17 boundary of the packed key */
	sbct_result_t r;
	sbct_builder_t *b = sbct_builder_new(&g_alloc);
	sbct_index_t *idx;

	(void)state;
	add_tenant(b, 1, "a", 1, 0, 1);
	add_did(b, 1, "1234567890123456*", 1, 1, NULL);
	add_did(b, 2, "12345678901234567*", 1, 2, NULL);
	add_did(b, 3, "12345678901234567890123456789012", 1, 3, NULL);
	add_did(b, 4, "123456789012345*", 1, 4, NULL);
	idx = sbct_builder_finish(b, NULL);
	sbct_builder_free(b);
	assert_int_equal(lookup(idx, "12345678901234567890123456789012", &r),
			SBCT_EXACT);
	assert_int_equal(r.gateway_group, 3);
	assert_string_equal(r.pattern, "12345678901234567890123456789012");
	assert_int_equal(lookup(idx, "12345678901234567890123456789011", &r),
			SBCT_PREFIX);
	assert_int_equal(r.gateway_group, 2);
	assert_int_equal(lookup(idx, "12345678901234560", &r), SBCT_PREFIX);
	assert_int_equal(r.gateway_group, 1);
	assert_string_equal(r.pattern, "1234567890123456*");
	assert_int_equal(lookup(idx, "1234567890123450", &r), SBCT_PREFIX);
	assert_int_equal(r.gateway_group, 4);
	assert_int_equal(lookup(idx, "12345678901234", &r), SBCT_NOT_FOUND);
	sbct_index_free(idx, &g_alloc);
}

static void test_empty_index(void **state)
{
	sbct_result_t r;
	sbct_build_stats_t st;
	sbct_builder_t *b = sbct_builder_new(&g_alloc);
	sbct_index_t *idx;

	(void)state;
	idx = sbct_builder_finish(b, &st);
	sbct_builder_free(b);
	assert_non_null(idx);
	assert_int_equal(st.dids, 0);
	assert_int_equal(st.tenants, 0);
	assert_int_equal(sbct_index_dids(idx), 0);
	assert_int_equal(lookup(idx, "4930123", &r), SBCT_NOT_FOUND);
	assert_int_equal(lookup(idx, "x", &r), SBCT_INVALID);
	sbct_index_free(idx, &g_alloc);

	/* tenants but zero DID rows */
	b = sbct_builder_new(&g_alloc);
	add_tenant(b, 1, "a", 1, 0, 1);
	idx = sbct_builder_finish(b, &st);
	sbct_builder_free(b);
	assert_non_null(idx);
	assert_int_equal(st.tenants, 1);
	assert_int_equal(lookup(idx, "1", &r), SBCT_NOT_FOUND);
	sbct_index_free(idx, &g_alloc);
}

static void test_no_index(void **state)
{
	sbct_result_t r;

	(void)state;
	assert_int_equal(lookup(NULL, "4930123", &r), SBCT_ERROR);
	assert_int_equal(lookup(NULL, "bad", &r), SBCT_INVALID);
	assert_string_equal(sbct_code_str(SBCT_ERROR), "error");
}

static void test_string_interning(void **state)
{
	sbct_builder_t *b = sbct_builder_new(&g_alloc);
	sbct_build_stats_t st;
	sbct_index_t *idx;
	char did[16];
	int i;

	(void)state;
	add_tenant(b, 1, "tenant-with-a-name", 1, 0, 1);
	for(i = 0; i < 1000; i++) {
		snprintf(did, sizeof(did), "49%d", 1000 + i);
		add_did(b, i + 1, did, 1, -1, (i & 1) ? "sip:a.example" : "sip:b.example");
	}
	idx = sbct_builder_finish(b, &st);
	sbct_builder_free(b);
	/* 1 + "tenant-with-a-name\0" + 2 * "sip:x.example\0" */
	assert_int_equal(st.string_bytes, 1 + 19 + 2 * 14);
	assert_int_equal(sbct_index_string_bytes(idx), st.string_bytes);
	sbct_index_free(idx, &g_alloc);
}

static void test_out_of_memory(void **state)
{
	/* fail every allocation in turn: never crash, never leak */
	long n;
	int done = 0;

	(void)state;
	for(n = 0; !done && n < 200; n++) {
		sbct_builder_t *b;
		sbct_index_t *idx = NULL;
		sbct_tenant_row_t t = {1, "a", 1, 1, 0, 0, 0, 1, NULL, 0};
		int i, rc = 0;
		char did[16];

		g_mem.count = 0;
		g_mem.fail_after = n;
		b = sbct_builder_new(&g_alloc);
		if(b == NULL)
			continue;
		if(sbct_builder_add_tenant(b, &t) == 0) {
			for(i = 0; i < 70000 && rc == 0; i++) {
				snprintf(did, sizeof(did), "%d", 100000 + i);
				rc = add_did_full(b, i, did, 1, -1, (i % 100) ? NULL : did, 0);
			}
			if(rc == 0) {
				idx = sbct_builder_finish(b, NULL);
				done = idx != NULL;
			} else {
				assert_int_equal(rc, SBCT_ADD_NOMEM);
			}
		}
		sbct_builder_free(b);
		sbct_index_free(idx, &g_alloc);
		assert_int_equal(g_mem.live, 0);
	}
	assert_true(done);
	g_mem.fail_after = -1;
}

/* ---- scale ------------------------------------------------------------ */

static uint64_t rng_state = 88172645463325252ULL;
static uint64_t rng(void)
{
	return xorshift64(&rng_state);
}

#define SCALE_DIDS 1000000

static void test_scale_1m(void **state)
{
	sbct_builder_t *b;
	sbct_index_t *idx;
	sbct_build_stats_t st;
	sbct_result_t r;
	char did[40];
	double t0, t1;
	double per_did;
	uint32_t i, found = 0;
	int n;

	(void)state;
	t0 = now_s();
	b = sbct_builder_new(&g_alloc);
	for(i = 1; i <= 1000; i++) {
		snprintf(did, sizeof(did), "tenant-%u", i);
		add_tenant(b, i, did, (int32_t)i, 0, 1);
	}
	/* 900k exact numbers 49 + 10 digits, 100k prefixes of 4..9 digits */
	for(i = 0; i < SCALE_DIDS; i++) {
		if(i % 10 == 9)
			n = snprintf(did, sizeof(did), "%u*",
					(unsigned)(1000 + (i / 10) * 7) % 1000000000u);
		else
			n = snprintf(did, sizeof(did), "49%010llu",
					(unsigned long long)(rng() % 10000000000ULL));
		assert_true(n > 0);
		assert_int_equal(add_did_full(b, i + 1, did, 1 + (i % 1000),
								 (i % 3) ? -1 : 5, NULL, 0),
				0);
	}
	idx = sbct_builder_finish(b, &st);
	sbct_builder_free(b);
	t1 = now_s();
	assert_non_null(idx);
	per_did = (double)(st.block_size - st.string_bytes) / st.dids;
	print_message("    scale: %u DIDs (%u exact, %u prefixes, %u duplicates), "
				  "build %.3f s, block %zu bytes, strings %zu, %.1f bytes/DID\n",
			st.dids, st.exact, st.prefixes, st.duplicates, t1 - t0,
			st.block_size, st.string_bytes, per_did);
	assert_true(st.dids > SCALE_DIDS * 99 / 100);
	assert_true(per_did < 100.0);

	/* replay the generator: every inserted exact number is found */
	rng_state = 88172645463325252ULL;
	for(i = 0; i < SCALE_DIDS; i++) {
		if(i % 10 == 9)
			continue;
		n = snprintf(did, sizeof(did), "+49%010llu",
				(unsigned long long)(rng() % 10000000000ULL));
		if(sbct_lookup(idx, did, (size_t)n, &r) == SBCT_EXACT)
			found++;
	}
	assert_int_equal(found, SCALE_DIDS / 10 * 9);
	assert_int_equal(lookup(idx, "10077", &r), SBCT_PREFIX);
	assert_string_equal(r.pattern, "1007*");
	sbct_index_free(idx, &g_alloc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test_setup_teardown(test_exact_match, setup_mem, teardown_mem),
			cmocka_unit_test_setup_teardown(test_prefix_match, setup_mem, teardown_mem),
			cmocka_unit_test_setup_teardown(
					test_longest_prefix_wins, setup_mem, teardown_mem),
			cmocka_unit_test_setup_teardown(
					test_exact_beats_prefix, setup_mem, teardown_mem),
			cmocka_unit_test_setup_teardown(test_catch_all, setup_mem, teardown_mem),
			cmocka_unit_test_setup_teardown(
					test_plus_normalization, setup_mem, teardown_mem),
			cmocka_unit_test_setup_teardown(test_invalid_dids, setup_mem, teardown_mem),
			cmocka_unit_test_setup_teardown(
					test_duplicate_patterns, setup_mem, teardown_mem),
			cmocka_unit_test_setup_teardown(
					test_disabled_tenant, setup_mem, teardown_mem),
			cmocka_unit_test_setup_teardown(
					test_tenant_accessors, setup_mem, teardown_mem),
			cmocka_unit_test_setup_teardown(test_group_override, setup_mem, teardown_mem),
			cmocka_unit_test_setup_teardown(
					test_group_zero_override, setup_mem, teardown_mem),
			cmocka_unit_test_setup_teardown(test_bad_rows, setup_mem, teardown_mem),
			cmocka_unit_test_setup_teardown(test_tenant_attrs, setup_mem, teardown_mem),
			cmocka_unit_test_setup_teardown(test_long_patterns, setup_mem, teardown_mem),
			cmocka_unit_test_setup_teardown(test_empty_index, setup_mem, teardown_mem),
			cmocka_unit_test_setup_teardown(test_no_index, setup_mem, teardown_mem),
			cmocka_unit_test_setup_teardown(
					test_string_interning, setup_mem, teardown_mem),
			cmocka_unit_test_setup_teardown(test_out_of_memory, setup_mem, teardown_mem),
			cmocka_unit_test_setup_teardown(test_scale_1m, setup_mem, teardown_mem),
	};

	return cmocka_run_group_tests_name("sbct_index", tests, NULL, NULL);
}
