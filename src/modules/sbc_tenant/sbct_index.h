/*
 * sbc_tenant - DID -> tenant -> gateway group index
 *
 * Pure C (no Kamailio headers) so it can be unit tested and benchmarked
 * outside Kamailio. All memory goes through an allocator given by the
 * caller: the module uses shared memory, the tests use malloc.
 *
 * An index is ONE contiguous, pointer-free block (header, tenant array,
 * open-addressing hash tables of exact and prefix DID entries, string
 * pool; see sbct_index_int.h). It is built off to the side by a builder
 * (sbct_build.c) and is read-only once finished, so any number of
 * processes can read it without locks.
 *
 * DID pattern syntax (did_routing.did):
 *   [+]D...D      exact number, 1..32 digits
 *   [+]D...D*     prefix, 1..32 digits followed by '*'
 *   *             catch-all prefix (length 0), matches every valid DID
 * A leading '+' is stripped (one only); nothing else is allowed: no
 * spaces, no other characters, no '+' without digits.
 *
 * Lookup of a DID (one leading '+' stripped, then 1..32 digits): exact
 * entry first, then prefixes from the longest length present in the index
 * down to the shortest; a prefix of length L matches a DID of length >= L
 * (so "4930*" also matches "4930").
 */

#ifndef _SBCT_INDEX_H_
#define _SBCT_INDEX_H_

#include <stddef.h>
#include <stdint.h>

#define SBCT_DID_MAX 32          /* max digits of a DID or a prefix */
#define SBCT_PATTERN_MAX (SBCT_DID_MAX + 2) /* '+' digits '*' */
#define SBCT_URI_MAX 255         /* max gateway_uri length kept */
#define SBCT_NAME_MAX 255        /* max tenant name length kept */
#define SBCT_ATTRS_MAX 255       /* max tenant attrs length kept */

/* lookup return codes: identical to the cfg/KEMI return codes */
#define SBCT_EXACT 1
#define SBCT_PREFIX 2
#define SBCT_NOT_FOUND (-1)
#define SBCT_DISABLED (-2)
#define SBCT_INVALID (-3)
#define SBCT_ERROR (-5)

/* results of adding a row to a builder: > 0 row skipped, < 0 fatal */
#define SBCT_ADD_OK 0
#define SBCT_ADD_NULL_DID 1
#define SBCT_ADD_BAD_DID 2
#define SBCT_ADD_UNKNOWN_TENANT 3
#define SBCT_ADD_BAD_GROUP 4
#define SBCT_ADD_BAD_URI 5
#define SBCT_ADD_BAD_NAME 6
#define SBCT_ADD_DUP_TENANT 7
#define SBCT_ADD_SEALED 8
#define SBCT_ADD_BAD_ATTRS 9
#define SBCT_ADD_NOMEM (-1)

typedef struct sbct_alloc
{
	void *(*alloc)(size_t size, void *ctx);
	void (*free)(void *ptr, void *ctx);
	void *ctx;
} sbct_alloc_t;

typedef struct sbct_index sbct_index_t;
typedef struct sbct_builder sbct_builder_t;

typedef struct sbct_tenant_row
{
	uint32_t id;
	const char *name; /* must not be NULL or empty */
	size_t name_len;
	int32_t gateway_group; /* >= 0 */
	int32_t fallback_group; /* >= 0, 0 = none */
	int32_t max_calls;
	int32_t max_cps;
	int enabled;
	const char *attrs; /* tenants.attrs: NULL or empty = none */
	size_t attrs_len;
} sbct_tenant_row_t;

typedef struct sbct_did_row
{
	uint32_t id;	  /* did_routing.id, used for logs and tie-breaks */
	const char *did; /* NULL = SQL NULL */
	size_t did_len;
	uint32_t tenant_id;
	int has_group;	   /* 0 = use the tenant's gateway_group */
	int32_t gateway_group; /* must be >= 0 when has_group */
	const char *gateway_uri; /* NULL or empty = none */
	size_t gateway_uri_len;
	int32_t priority; /* duplicates: higher priority wins, then lower id */
} sbct_did_row_t;

typedef struct sbct_build_stats
{
	uint32_t tenants;		/* tenants in the index */
	uint32_t dids;			/* DID patterns in the index */
	uint32_t exact;			/* ... of which exact numbers */
	uint32_t prefixes;		/* ... of which prefixes (incl. catch-all) */
	uint32_t duplicates;	/* DID rows dropped as duplicate patterns */
	uint32_t tenant_duplicates; /* tenant rows dropped (same id) */
	size_t block_size;		/* bytes of the whole index block */
	size_t string_bytes;	/* bytes of the string pool (names, URIs) */
} sbct_build_stats_t;

/* Lookup result. code, did and did_len are always set; the other fields
 * only for SBCT_EXACT, SBCT_PREFIX and SBCT_DISABLED (gateway_uri is NULL
 * and pattern "" otherwise). Pointers point into the index: copy them
 * out before the index can be released (while the reader slot is held). */
typedef struct sbct_result
{
	int code;
	int is_prefix;
	uint32_t tenant_id;
	const char *tenant;
	size_t tenant_len;
	int tenant_enabled;
	int32_t gateway_group;	/* DID row's own, else the tenant's */
	int32_t fallback_group; /* tenant's, 0 = none */
	int32_t max_calls;
	int32_t max_cps;
	const char *attrs; /* tenant's attrs ("" when none) */
	size_t attrs_len;
	const char *gateway_uri; /* NULL if the DID row has none */
	size_t gateway_uri_len;
	char did[SBCT_DID_MAX + 1]; /* normalized input (valid from NOT_FOUND on) */
	size_t did_len;
	char pattern[SBCT_PATTERN_MAX + 1]; /* matched did_routing.did */
	size_t pattern_len;
} sbct_result_t;

/* one tenant of an index; name points into the index */
typedef struct sbct_tenant_info
{
	uint32_t id;
	const char *name;
	size_t name_len;
	int32_t gateway_group;
	int32_t fallback_group;
	int32_t max_calls; /* 0 = unlimited */
	int32_t max_cps;   /* 0 = unlimited */
	int enabled;
	const char *attrs; /* "" when none; points into the index */
	size_t attrs_len;
} sbct_tenant_info_t;

/* builder: add all tenants first, then the DID rows, then finish */
sbct_builder_t *sbct_builder_new(const sbct_alloc_t *a);
int sbct_builder_add_tenant(sbct_builder_t *b, const sbct_tenant_row_t *t);
int sbct_builder_add_did(sbct_builder_t *b, const sbct_did_row_t *r);
/* called by finish() for every DID row dropped as a duplicate pattern */
typedef void (*sbct_dup_cb_t)(
		uint32_t kept_row_id, uint32_t dropped_row_id, void *ctx);
void sbct_builder_set_dup_cb(sbct_builder_t *b, sbct_dup_cb_t cb, void *ctx);
/* returns the new index (allocated with the builder's allocator) or NULL
 * when out of memory; the builder must be freed in both cases */
sbct_index_t *sbct_builder_finish(sbct_builder_t *b, sbct_build_stats_t *st);
void sbct_builder_free(sbct_builder_t *b);

void sbct_index_free(sbct_index_t *idx, const sbct_alloc_t *a);
size_t sbct_index_size(const sbct_index_t *idx);
size_t sbct_index_string_bytes(const sbct_index_t *idx);
uint32_t sbct_index_dids(const sbct_index_t *idx);
uint32_t sbct_index_tenants(const sbct_index_t *idx);
/* exact numbers and prefixes (catch-all included) in the index */
void sbct_index_counts(
		const sbct_index_t *idx, uint32_t *exact, uint32_t *prefixes);
/* the tenant with this id (binary search): 0, or -1 if not there */
int sbct_index_tenant(
		const sbct_index_t *idx, uint32_t id, sbct_tenant_info_t *out);
/* the i-th tenant in id order (0 <= i < sbct_index_tenants()): 0 or -1 */
int sbct_index_tenant_at(
		const sbct_index_t *idx, uint32_t i, sbct_tenant_info_t *out);

/* idx may be NULL (-> SBCT_ERROR); did is length delimited */
int sbct_lookup(const sbct_index_t *idx, const char *did, size_t len,
		sbct_result_t *res);

/* normalize a DID into out (SBCT_DID_MAX + 1 bytes, NUL terminated);
 * returns the digit count or -1 if invalid */
int sbct_normalize(const char *did, size_t len, char *out);

const char *sbct_add_reason(int rc);
const char *sbct_code_str(int code);

#endif
