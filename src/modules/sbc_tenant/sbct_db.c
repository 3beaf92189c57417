/*
 * sbc_tenant - loading tenants and did_routing through the Kamailio DB API
 *
 * Two fixed queries (all rows of each table, fixed column list); nothing
 * from SIP ever reaches SQL. Rows are streamed with fetch_result() when
 * the driver can, so a million DIDs never sit in pkg memory at once.
 * Bad rows are skipped and counted; the first SBCT_WARN_MAX of each
 * table are logged with their id.
 */

#include <stdio.h>
#include <string.h>

#include "../../core/dprint.h"
#include "../../lib/srdb1/db.h"

#include "sbct_db.h"
#include "sbct_db_int.h"

#define SBCT_WARN_MAX 100
#define SBCT_REASON_LEN 128

str sbct_db_url = STR_NULL;
str sbct_tenants_table = str_init("tenants");
str sbct_did_table = str_init("did_routing");
int sbct_fetch_rows = 1000;
str sbct_version_table = str_init("sbc_routing_version");

db_func_t sbct_dbf;

/* column names of sql/kamailio_schema.sql (the prototype's did_routing) */
static str sbct_col_id = str_init("id");
static str sbct_col_name = str_init("name");
static str sbct_col_gateway_group = str_init("gateway_group");
static str sbct_col_fallback_group = str_init("fallback_group");
static str sbct_col_max_calls = str_init("max_calls");
static str sbct_col_max_cps = str_init("max_cps");
static str sbct_col_enabled = str_init("enabled");
static str sbct_col_attrs = str_init("attrs");
static str sbct_col_did = str_init("did");
static str sbct_col_tenant_id = str_init("tenant_id");
static str sbct_col_gateway_uri = str_init("gateway_uri");
static str sbct_col_priority = str_init("priority");
static str sbct_col_version = str_init("version");

enum
{
	TC_ID = 0,
	TC_NAME,
	TC_GROUP,
	TC_FALLBACK,
	TC_MAX_CALLS,
	TC_MAX_CPS,
	TC_ENABLED,
	TC_ATTRS,
	TC_N
};

enum
{
	DC_ID = 0,
	DC_DID,
	DC_TENANT,
	DC_GROUP,
	DC_URI,
	DC_PRIORITY,
	DC_ENABLED,
	DC_N
};

typedef int (*sbct_row_f)(sbct_builder_t *b, db_val_t *v, int *warned);

int sbct_db_bind(void)
{
	if(sbct_db_url.s == NULL || sbct_db_url.len <= 0) {
		LM_ERR("db_url is required\n");
		return -1;
	}
	if(db_bind_mod(&sbct_db_url, &sbct_dbf) < 0) {
		LM_ERR("cannot bind the database module of db_url\n");
		return -1;
	}
	if(!DB_CAPABILITY(sbct_dbf, DB_CAP_QUERY)) {
		LM_ERR("the database module cannot run queries\n");
		return -1;
	}
	return 0;
}

/* ---- value helpers: 0 ok, 1 NULL, -1 unusable ------------------------ */

static int sbct_val_ll(db_val_t *v, long long *out)
{
	str s;
	char buf[24];

	if(VAL_NULL(v))
		return 1;
	switch(VAL_TYPE(v)) {
		case DB1_INT:
			*out = VAL_INT(v);
			return 0;
		case DB1_UINT:
			*out = VAL_UINT(v);
			return 0;
		case DB1_BIGINT:
			*out = VAL_BIGINT(v);
			return 0;
		case DB1_UBIGINT:
			if(VAL_UBIGINT(v) > (unsigned long long)0x7fffffffffffffffLL)
				return -1;
			*out = (long long)VAL_UBIGINT(v);
			return 0;
		case DB1_STRING:
			s.s = (char *)VAL_STRING(v);
			s.len = s.s ? strlen(s.s) : 0;
			break;
		case DB1_STR:
			s = VAL_STR(v);
			break;
		default:
			return -1;
	}
	/* a numeric column the driver returned as text */
	if(s.s == NULL || s.len <= 0 || s.len >= (int)sizeof(buf))
		return -1;
	memcpy(buf, s.s, s.len);
	buf[s.len] = '\0';
	if(sscanf(buf, "%lld", out) != 1)
		return -1;
	return 0;
}

static int sbct_val_str(db_val_t *v, str *out)
{
	if(VAL_NULL(v))
		return 1;
	switch(VAL_TYPE(v)) {
		case DB1_STRING:
			out->s = (char *)VAL_STRING(v);
			out->len = out->s ? strlen(out->s) : 0;
			break;
		case DB1_STR:
			*out = VAL_STR(v);
			break;
		case DB1_BLOB:
			*out = VAL_BLOB(v);
			break;
		default:
			return -1;
	}
	return out->s ? 0 : 1;
}

/* int column within [lo, hi]; NULL is an error unless allowed (*isnull) */
static int sbct_val_int(db_val_t *v, long long lo, long long hi, int32_t *out,
		int *isnull)
{
	long long x;
	int rc = sbct_val_ll(v, &x);

	if(isnull)
		*isnull = (rc == 1);
	if(rc == 1 && isnull)
		return 0;
	if(rc != 0 || x < lo || x > hi)
		return -1;
	*out = (int32_t)x;
	return 0;
}

static uint32_t sbct_row_id(db_val_t *v)
{
	long long x = 0;

	if(sbct_val_ll(v, &x) != 0 || x < 0 || x > 0xffffffffLL)
		return 0;
	return (uint32_t)x;
}

/* ---- rows ------------------------------------------------------------ */

void sbct_query_failed(char *reason, size_t reason_size, const str *table)
{
	snprintf(reason, reason_size,
			"database query of table %.*s failed (database down or"
			" connection lost? the driver logged why)",
			table->len, table->s);
}

int sbct_skip(const char *table, uint32_t id, const char *why, int *warned)
{
	if((*warned)++ < SBCT_WARN_MAX)
		LM_WARN("%s row id=%u skipped: %s\n", table, id, why);
	else if(*warned == SBCT_WARN_MAX + 1)
		LM_WARN("%s: more rows skipped, not logged one by one\n", table);
	return SBCT_ROW_SKIP;
}

static int sbct_tenant_row(sbct_builder_t *b, db_val_t *v, int *warned)
{
	sbct_tenant_row_t t;
	int32_t enabled;
	long long id;
	str name, attrs;
	int rc;

	memset(&t, 0, sizeof(t));
	t.id = sbct_row_id(&v[TC_ID]);
	if(sbct_val_ll(&v[TC_ID], &id) != 0 || id < 0 || id > 0xffffffffLL)
		return sbct_skip("tenants", t.id, "bad id", warned);
	if(sbct_val_str(&v[TC_NAME], &name) != 0)
		return sbct_skip("tenants", t.id, "NULL name", warned);
	t.name = name.s;
	t.name_len = (size_t)name.len;
	if(sbct_val_int(&v[TC_GROUP], 0, INT32_MAX, &t.gateway_group, NULL) < 0)
		return sbct_skip("tenants", t.id, "bad or negative gateway_group",
				warned);
	if(sbct_val_int(&v[TC_FALLBACK], 0, INT32_MAX, &t.fallback_group, NULL)
			< 0)
		return sbct_skip("tenants", t.id, "bad or negative fallback_group",
				warned);
	if(sbct_val_int(&v[TC_MAX_CALLS], 0, INT32_MAX, &t.max_calls, NULL) < 0)
		return sbct_skip("tenants", t.id, "bad max_calls", warned);
	if(sbct_val_int(&v[TC_MAX_CPS], 0, INT32_MAX, &t.max_cps, NULL) < 0)
		return sbct_skip("tenants", t.id, "bad max_cps", warned);
	if(sbct_val_int(&v[TC_ENABLED], INT32_MIN, INT32_MAX, &enabled, NULL) < 0)
		return sbct_skip("tenants", t.id, "bad enabled", warned);
	t.enabled = enabled != 0;
	/* NULL attrs (not allowed by the schema) = none */
	if(sbct_val_str(&v[TC_ATTRS], &attrs) == 0) {
		t.attrs = attrs.s;
		t.attrs_len = (size_t)attrs.len;
	}
	rc = sbct_builder_add_tenant(b, &t);
	if(rc < 0)
		return SBCT_ROW_FATAL;
	if(rc > 0)
		return sbct_skip("tenants", t.id, sbct_add_reason(rc), warned);
	return SBCT_ROW_OK;
}

static int sbct_did_row(sbct_builder_t *b, db_val_t *v, int *warned)
{
	sbct_did_row_t r;
	int32_t enabled;
	long long tenant;
	str did, uri;
	int rc, isnull;

	memset(&r, 0, sizeof(r));
	r.id = sbct_row_id(&v[DC_ID]);
	if(sbct_val_int(&v[DC_ENABLED], INT32_MIN, INT32_MAX, &enabled, NULL) < 0)
		return sbct_skip("did_routing", r.id, "bad enabled", warned);
	if(enabled == 0)
		return SBCT_ROW_DISABLED;
	rc = sbct_val_str(&v[DC_DID], &did);
	if(rc < 0)
		return sbct_skip("did_routing", r.id, "did is not text", warned);
	if(rc == 0) {
		r.did = did.s;
		r.did_len = (size_t)did.len;
	}
	/* tenant ids are unsigned 32-bit */
	if(sbct_val_ll(&v[DC_TENANT], &tenant) != 0 || tenant < 0
			|| tenant > 0xffffffffLL)
		return sbct_skip("did_routing", r.id, "bad tenant_id", warned);
	r.tenant_id = (uint32_t)tenant;
	if(sbct_val_int(&v[DC_GROUP], INT32_MIN, INT32_MAX, &r.gateway_group,
			   &isnull)
			< 0)
		return sbct_skip("did_routing", r.id, "bad gateway_group", warned);
	r.has_group = !isnull;
	rc = sbct_val_str(&v[DC_URI], &uri);
	if(rc < 0)
		return sbct_skip("did_routing", r.id, "gateway_uri is not text", warned);
	if(rc == 0) {
		r.gateway_uri = uri.s;
		r.gateway_uri_len = (size_t)uri.len;
	}
	if(sbct_val_int(&v[DC_PRIORITY], INT32_MIN, INT32_MAX, &r.priority, &isnull)
			< 0)
		return sbct_skip("did_routing", r.id, "bad priority", warned);
	return sbct_did_add(b, &r, warned);
}

int sbct_did_add(sbct_builder_t *b, const sbct_did_row_t *r, int *warned)
{
	int rc = sbct_builder_add_did(b, r);

	if(rc < 0)
		return SBCT_ROW_FATAL;
	if(rc > 0)
		return sbct_skip("did_routing", r->id, sbct_add_reason(rc), warned);
	return SBCT_ROW_OK;
}

/* ---- table scan ------------------------------------------------------ */

/* runs the fixed query of one table and feeds every row to fn */
static int sbct_scan_table(db1_con_t *con, str *table, db_key_t *cols,
		int ncols, sbct_row_f fn, sbct_builder_t *b, sbct_scan_counts_t *cnt,
		char *reason, int reason_size)
{
	db1_res_t *res = NULL;
	int fetch = DB_CAPABILITY(sbct_dbf, DB_CAP_FETCH);
	int i, rc, warned = 0;

	if(sbct_dbf.use_table(con, table) < 0) {
		snprintf(reason, reason_size, "cannot use table %.*s", table->len,
				table->s);
		return -1;
	}
	if(fetch) {
		if(sbct_dbf.query(con, 0, 0, 0, cols, 0, ncols, 0, 0) < 0
				|| sbct_dbf.fetch_result(con, &res, sbct_fetch_rows) < 0) {
			res = NULL;
			goto dberr;
		}
	} else if(sbct_dbf.query(con, 0, 0, 0, cols, 0, ncols, 0, &res) < 0) {
		res = NULL;
		goto dberr;
	}
	if(res == NULL)
		goto dberr;
	for(;;) {
		for(i = 0; i < RES_ROW_N(res); i++) {
			if(ROW_N(&RES_ROWS(res)[i]) < ncols) {
				snprintf(reason, reason_size, "short row in table %.*s",
						table->len, table->s);
				goto error;
			}
			rc = fn(b, ROW_VALUES(&RES_ROWS(res)[i]), &warned);
			if(rc == SBCT_ROW_FATAL) {
				snprintf(reason, reason_size,
						"out of shared memory loading table %.*s", table->len,
						table->s);
				goto error;
			}
			if(rc == SBCT_ROW_OK)
				cnt->ok++;
			else if(rc == SBCT_ROW_SKIP)
				cnt->skipped++;
			else
				cnt->disabled++;
		}
		if(!fetch || RES_ROW_N(res) == 0)
			break;
		if(sbct_dbf.fetch_result(con, &res, sbct_fetch_rows) < 0) {
			res = NULL;
			goto dberr;
		}
		if(res == NULL || RES_ROW_N(res) == 0)
			break;
	}
	if(res)
		sbct_dbf.free_result(con, res);
	return 0;

dberr:
	sbct_query_failed(reason, reason_size, table);
error:
	if(res)
		sbct_dbf.free_result(con, res);
	return -1;
}

/* ---- change tracking ------------------------------------------------- */

/* SELECT version FROM <version_table> WHERE id = 1 */
static int sbct_read_version(
		db1_con_t *con, uint64_t *version, char *reason, int reason_size)
{
	db_key_t keys[1] = {&sbct_col_id};
	db_key_t cols[1] = {&sbct_col_version};
	db_val_t vals[1], *val;
	db1_res_t *res = NULL;
	long long v;
	int rc = -1;

	memset(vals, 0, sizeof(vals));
	VAL_TYPE(&vals[0]) = DB1_INT;
	VAL_INT(&vals[0]) = 1;
	if(sbct_dbf.use_table(con, &sbct_version_table) < 0
			|| sbct_dbf.query(con, keys, 0, vals, cols, 1, 1, 0, &res) < 0
			|| res == NULL) {
		snprintf(reason, reason_size,
				"cannot read table %.*s (database down or connection lost?"
				" the driver logged why)",
				sbct_version_table.len, sbct_version_table.s);
		goto done;
	}
	if(RES_ROW_N(res) < 1) {
		snprintf(reason, reason_size, "no row id=1 in table %.*s",
				sbct_version_table.len, sbct_version_table.s);
		goto done;
	}
	val = ROW_VALUES(&RES_ROWS(res)[0]);
	/* BIGINT UNSIGNED: UBIGINT, BIGINT or text, whatever the driver makes
	 * of it; versions stay far below 2^63 */
	if(!VAL_NULL(val) && VAL_TYPE(val) == DB1_UBIGINT) {
		*version = (uint64_t)VAL_UBIGINT(val);
		rc = 0;
	} else if(sbct_val_ll(val, &v) == 0) {
		*version = (uint64_t)v;
		rc = 0;
	} else {
		snprintf(reason, reason_size, "bad version in table %.*s",
				sbct_version_table.len, sbct_version_table.s);
	}
done:
	if(res)
		sbct_dbf.free_result(con, res);
	return rc;
}

static db1_con_t *sbct_poll_con = NULL;

int sbct_db_version_poll(uint64_t *version, char *reason, int reason_size)
{
	if(sbct_version_table.len <= 0) {
		snprintf(reason, reason_size, "no version_table");
		return -1;
	}
	if(sbct_poll_con == NULL) {
		sbct_poll_con = sbct_dbf.init(&sbct_db_url);
		if(sbct_poll_con == NULL) {
			snprintf(reason, reason_size, "cannot connect to the database");
			return -1;
		}
	}
	if(sbct_read_version(sbct_poll_con, version, reason, reason_size) == 0)
		return 0;
	/* reconnect next time: the server may have gone away */
	sbct_db_version_close();
	return -1;
}

void sbct_db_version_close(void)
{
	if(sbct_poll_con) {
		sbct_dbf.close(sbct_poll_con);
		sbct_poll_con = NULL;
	}
}

/* ---- load -------------------------------------------------------------- */

int sbct_db_load(sbct_builder_t *b, sbct_db_counts_t *c, char *reason,
		int reason_size)
{
	db_key_t tcols[TC_N] = {&sbct_col_id, &sbct_col_name,
			&sbct_col_gateway_group, &sbct_col_fallback_group,
			&sbct_col_max_calls, &sbct_col_max_cps, &sbct_col_enabled,
			&sbct_col_attrs};
	db_key_t dcols[DC_N] = {&sbct_col_id, &sbct_col_did, &sbct_col_tenant_id,
			&sbct_col_gateway_group, &sbct_col_gateway_uri, &sbct_col_priority,
			&sbct_col_enabled};
	sbct_scan_counts_t tc = {0, 0, 0}, dc = {0, 0, 0};
	db1_con_t *con;
	int rc;

	con = sbct_dbf.init(&sbct_db_url);
	if(con == NULL) {
		snprintf(reason, reason_size, "cannot connect to the database");
		return -1;
	}
	/* the version first: a change committed after this read bumps it
	 * again, so the timer reloads once more instead of missing it */
	if(sbct_version_table.len > 0) {
		char vreason[SBCT_REASON_LEN];
		c->has_version =
				sbct_read_version(con, &c->version, vreason, sizeof(vreason))
				== 0;
		if(!c->has_version)
			LM_WARN("change tracking: %s\n", vreason);
	}
	/* tenants first: DID rows are checked against them */
	rc = sbct_scan_table(con, &sbct_tenants_table, tcols, TC_N,
			sbct_tenant_row, b, &tc, reason, reason_size);
	if(rc == 0 && sbct_packed_load) {
		rc = sbct_scan_dids_packed(con, b, &dc, reason, reason_size);
		if(rc > 0 && (dc.ok || dc.skipped || dc.disabled)) {
			/* rows were added already: reading them again would count
			 * them twice */
			snprintf(reason, reason_size, "packed load of table %.*s failed",
					sbct_did_table.len, sbct_did_table.s);
			rc = -1;
		}
	} else if(rc == 0) {
		rc = 1;
	}
	if(rc > 0)
		rc = sbct_scan_table(con, &sbct_did_table, dcols, DC_N, sbct_did_row,
				b, &dc, reason, reason_size);
	sbct_dbf.close(con);
	c->tenants = tc.ok;
	c->tenants_skipped = tc.skipped;
	c->dids = dc.ok;
	c->dids_skipped = dc.skipped;
	c->dids_disabled = dc.disabled;
	return rc;
}
