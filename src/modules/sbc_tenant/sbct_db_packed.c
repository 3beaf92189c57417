/*
 * sbc_tenant - did_routing read as packed chunks of rows (MySQL/MariaDB)
 *
 * Why: read row by row, db_mysql allocates and frees one private-memory
 * block per row and converts every column. With Kamailio's default
 * private-memory manager (q_malloc) each of those allocations searches
 * the free lists, and for a million rows that is most of a reload
 * (2.5-3.5 s of 3-4 s on a 2-core VM; 1 s with -X fm). Here the server
 * packs up to SBCT_PACK_ROWS rows into one text value per result row
 * (GROUP_CONCAT), so the driver handles about a thousand rows instead of
 * a million and the module parses plain text:
 *
 *   record  = id "," enabled "," tenant_id "," gateway_group "," priority
 *             "," HEX(did) "," HEX(gateway_uri)
 *   records are separated by ";", SQL NULL is "N"
 *
 * Strings travel as hex, so no byte of a column (separator, charset
 * conversion) can break the parsing. Each result row also carries its
 * COUNT(*): a chunk that does not hold exactly that many records (e.g.
 * cut by group_concat_max_len) fails the reload.
 *
 * The query is fixed (only the configured table name goes into it);
 * nothing from SIP ever reaches SQL.
 */

#include <stdio.h>
#include <string.h>

#include "../../core/dprint.h"

#include "sbct_db.h"
#include "sbct_db_int.h"
#include "sbct_pack.h"

#define SBCT_PACK_ROWS 1000

int sbct_packed_load = 1;

/* the same checks as the row-by-row path (sbct_did_row() in sbct_db.c) */
static int sbct_prow(sbct_builder_t *b, sbct_prec_t *p, int *warned)
{
	sbct_did_row_t r;
	uint32_t id = (p->id >= 0 && p->id <= 0xffffffffLL) ? (uint32_t)p->id : 0;

	memset(&r, 0, sizeof(r));
	r.id = id;
	if(p->null_enabled || p->enabled < INT32_MIN || p->enabled > INT32_MAX)
		return sbct_skip("did_routing", id, "bad enabled", warned);
	if(p->enabled == 0)
		return SBCT_ROW_DISABLED;
	if(p->did_long)
		return sbct_skip("did_routing", id, "invalid did pattern", warned);
	if(!p->null_did) {
		r.did = p->did;
		r.did_len = p->did_len;
	}
	if(p->null_tenant || p->tenant < 0 || p->tenant > 0xffffffffLL)
		return sbct_skip("did_routing", id, "bad tenant_id", warned);
	r.tenant_id = (uint32_t)p->tenant;
	if(!p->null_group) {
		if(p->group < INT32_MIN || p->group > INT32_MAX)
			return sbct_skip("did_routing", id, "bad gateway_group", warned);
		r.has_group = 1;
		r.gateway_group = (int32_t)p->group;
	}
	if(p->uri_long)
		return sbct_skip("did_routing", id, sbct_add_reason(SBCT_ADD_BAD_URI),
				warned);
	if(!p->null_uri) {
		r.gateway_uri = p->uri;
		r.gateway_uri_len = p->uri_len;
	}
	if(!p->null_priority) {
		if(p->priority < INT32_MIN || p->priority > INT32_MAX)
			return sbct_skip("did_routing", id, "bad priority", warned);
		r.priority = (int32_t)p->priority;
	}
	return sbct_did_add(b, &r, warned);
}

/* all records of one packed value; returns the number parsed or -1 */
static long sbct_pchunk(sbct_builder_t *b, const char *s, size_t len,
		sbct_scan_counts_t *cnt, int *warned, char *reason, int reason_size)
{
	static sbct_prec_t rec; /* 2 KB: not on the stack */
	const char *end = s + len, *e;
	long n = 0;
	int rc;

	while(s < end) {
		e = memchr(s, ';', (size_t)(end - s));
		if(e == NULL)
			e = end;
		if(sbct_pack_record(s, e, &rec) < 0) {
			snprintf(reason, reason_size,
					"malformed packed record in table %.*s after %ld records",
					sbct_did_table.len, sbct_did_table.s, n);
			return -1;
		}
		rc = sbct_prow(b, &rec, warned);
		if(rc == SBCT_ROW_FATAL) {
			snprintf(reason, reason_size,
					"out of shared memory loading table %.*s",
					sbct_did_table.len, sbct_did_table.s);
			return -1;
		}
		if(rc == SBCT_ROW_OK)
			cnt->ok++;
		else if(rc == SBCT_ROW_SKIP)
			cnt->skipped++;
		else
			cnt->disabled++;
		n++;
		s = e + 1;
	}
	return n;
}

static int sbct_packed_query(db1_con_t *con, db1_res_t **res)
{
	static char q[1024];
	static str setq = str_init("SET SESSION group_concat_max_len = 268435456");
	str sq;
	int n;

	n = snprintf(q, sizeof(q),
			"SELECT COUNT(*), GROUP_CONCAT(CONCAT_WS(',', id,"
			" IFNULL(enabled, 'N'), IFNULL(tenant_id, 'N'),"
			" IFNULL(gateway_group, 'N'), IFNULL(priority, 'N'),"
			" IFNULL(HEX(did), 'N'), IFNULL(HEX(gateway_uri), 'N'))"
			" SEPARATOR ';') FROM %.*s GROUP BY id DIV %d",
			sbct_did_table.len, sbct_did_table.s, SBCT_PACK_ROWS);
	if(n <= 0 || n >= (int)sizeof(q))
		return -1;
	sq.s = q;
	sq.len = n;
	if(sbct_dbf.raw_query(con, &setq, NULL) < 0)
		return -1;
	if(DB_CAPABILITY(sbct_dbf, DB_CAP_FETCH)) {
		if(sbct_dbf.raw_query(con, &sq, NULL) < 0
				|| sbct_dbf.fetch_result(con, res, 16) < 0)
			return -1;
	} else if(sbct_dbf.raw_query(con, &sq, res) < 0) {
		return -1;
	}
	return *res ? 0 : -1;
}

static int sbct_pcount(db_val_t *v, long long *n)
{
	if(VAL_NULL(v))
		return -1;
	switch(VAL_TYPE(v)) {
		case DB1_INT:
			*n = VAL_INT(v);
			return 0;
		case DB1_BIGINT:
			*n = VAL_BIGINT(v);
			return 0;
		case DB1_UBIGINT:
			*n = (long long)VAL_UBIGINT(v);
			return 0;
		case DB1_STRING:
			return sscanf(VAL_STRING(v), "%lld", n) == 1 ? 0 : -1;
		default:
			return -1;
	}
}

static int sbct_ptext(db_val_t *v, const char **s, size_t *len)
{
	if(VAL_NULL(v))
		return -1;
	switch(VAL_TYPE(v)) {
		case DB1_BLOB:
			*s = VAL_BLOB(v).s;
			*len = (size_t)VAL_BLOB(v).len;
			return 0;
		case DB1_STR:
			*s = VAL_STR(v).s;
			*len = (size_t)VAL_STR(v).len;
			return 0;
		case DB1_STRING:
			*s = VAL_STRING(v);
			*len = *s ? strlen(*s) : 0;
			return 0;
		default:
			return -1;
	}
}

int sbct_scan_dids_packed(db1_con_t *con, sbct_builder_t *b,
		sbct_scan_counts_t *cnt, char *reason, int reason_size)
{
	db1_res_t *res = NULL;
	int fetch = DB_CAPABILITY(sbct_dbf, DB_CAP_FETCH);
	int i, warned = 0;
	long long want;
	const char *s;
	size_t len;
	long got;

	if(!DB_CAPABILITY(sbct_dbf, DB_CAP_RAW_QUERY)
			|| strncmp(sbct_db_url.s, "mysql:", 6) != 0)
		return 1;
	if(sbct_packed_query(con, &res) < 0) {
		LM_WARN("packed load not possible, reading table %.*s row by row\n",
				sbct_did_table.len, sbct_did_table.s);
		if(res)
			sbct_dbf.free_result(con, res);
		return 1;
	}
	for(;;) {
		for(i = 0; i < RES_ROW_N(res); i++) {
			db_val_t *v = ROW_VALUES(&RES_ROWS(res)[i]);
			if(ROW_N(&RES_ROWS(res)[i]) < 2 || sbct_pcount(&v[0], &want) < 0
					|| sbct_ptext(&v[1], &s, &len) < 0) {
				snprintf(reason, reason_size,
						"unexpected packed row from table %.*s",
						sbct_did_table.len, sbct_did_table.s);
				goto error;
			}
			got = sbct_pchunk(b, s, len, cnt, &warned, reason, reason_size);
			if(got < 0)
				goto error;
			if(got != want) {
				snprintf(reason, reason_size,
						"packed chunk of table %.*s holds %ld of %lld rows",
						sbct_did_table.len, sbct_did_table.s, got, want);
				goto error;
			}
		}
		if(!fetch || RES_ROW_N(res) == 0)
			break;
		if(sbct_dbf.fetch_result(con, &res, 16) < 0) {
			res = NULL;
			sbct_query_failed(reason, reason_size, &sbct_did_table);
			goto error;
		}
		if(res == NULL || RES_ROW_N(res) == 0)
			break;
	}
	if(res)
		sbct_dbf.free_result(con, res);
	return 0;

error:
	if(res)
		sbct_dbf.free_result(con, res);
	return -1;
}
