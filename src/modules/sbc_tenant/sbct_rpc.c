/*
 * sbc_tenant - RPC commands
 *
 *   sbc_tenant.reload        reload from the database (old index kept on
 *                            failure: fault 500 with the reason)
 *   sbc_tenant.lookup <did>  the lookup the cfg would do, as a struct
 *   sbc_tenant.stats         live index and reload figures
 */

#include <string.h>

#include "../../core/dprint.h"
#include "../../core/rpc.h"

#include "sbct_index.h"
#include "sbct_lookup.h"
#include "sbct_reload.h"
#include "sbct_rpc.h"

static const char *sbct_rpc_reload_doc[] = {
		"Reload tenants and DIDs from the database; on failure the current"
		" index is kept and the reason is returned",
		0};

static void sbct_rpc_reload(rpc_t *rpc, void *ctx)
{
	sbct_reload_info_t info;
	char reason[SBCT_REASON_SIZE];
	void *th;

	if(sbct_reload(&info, reason, sizeof(reason)) < 0) {
		rpc->fault(ctx, 500, "%s", reason);
		return;
	}
	if(rpc->add(ctx, "{", &th) < 0) {
		rpc->fault(ctx, 500, "Internal error creating the reply");
		return;
	}
	rpc->struct_add(th, "ddddddddd", "tenants", (int)info.tenants, "dids",
			(int)info.dids, "skipped", (int)info.skipped, "duplicates",
			(int)info.duplicates, "disabled", (int)info.disabled,
			"duration_ms", (int)info.duration_ms, "db_ms", (int)info.db_ms,
			"build_ms", (int)info.build_ms, "index_bytes",
			(int)info.index_bytes);
}

static const char *sbct_rpc_lookup_doc[] = {
		"Look a DID up like sbc_tenant_lookup() (params: did; use s:<did>"
		" with kamcmd to keep leading zeros and long numbers as text)",
		0};

static void sbct_rpc_lookup(rpc_t *rpc, void *ctx)
{
	const sbct_index_t *idx;
	sbct_result_t r;
	str did = STR_NULL;
	str empty = str_init("");
	str tenant, uri;
	void *th;
	int rc, found;

	/* '.': accept a number too (kamcmd sends digits as an integer) */
	if(rpc->scan(ctx, ".S", &did) < 1) {
		rpc->fault(ctx, 400, "DID parameter missing");
		return;
	}
	idx = sbct_reader_enter();
	rc = sbct_lookup(idx, did.len > 0 ? did.s : NULL,
			did.len > 0 ? (size_t)did.len : 0, &r);
	found = (rc == SBCT_EXACT || rc == SBCT_PREFIX || rc == SBCT_DISABLED);
	tenant.s = (char *)r.tenant;
	tenant.len = found ? (int)r.tenant_len : 0;
	uri.s = (char *)r.gateway_uri;
	uri.len = (int)r.gateway_uri_len;
	/* strings are copied into the reply while the slot is held */
	if(rpc->add(ctx, "{", &th) < 0) {
		sbct_reader_leave();
		rpc->fault(ctx, 500, "Internal error creating the reply");
		return;
	}
	rpc->struct_add(th, "dssdSddSss", "code", rc, "result", sbct_code_str(rc),
			"match", found ? (r.is_prefix ? "prefix" : "exact") : "",
			"tenant_id", found ? (int)r.tenant_id : 0, "tenant",
			found ? &tenant : &empty, "gateway_group",
			found ? (int)r.gateway_group : 0, "fallback_group",
			found ? (int)r.fallback_group : 0, "gateway_uri",
			(found && r.gateway_uri) ? &uri : &empty, "pattern", r.pattern,
			"did", r.did);
	sbct_reader_leave();
}

static const char *sbct_rpc_stats_doc[] = {
		"Live index and reload figures", 0};

static void sbct_rpc_stats(rpc_t *rpc, void *ctx)
{
	sbct_reload_stats_t st;
	const sbct_index_t *idx;
	void *th;
	int tenants, dids;

	idx = sbct_reader_enter();
	tenants = (int)sbct_index_tenants(idx);
	dids = (int)sbct_index_dids(idx);
	sbct_reader_leave();
	sbct_reload_stats(&st);
	if(rpc->add(ctx, "{", &th) < 0) {
		rpc->fault(ctx, 500, "Internal error creating the reply");
		return;
	}
	rpc->struct_add(th, "dddddd", "tenants", tenants, "dids", dids,
			"index_bytes", (int)st.index_bytes, "rows_skipped",
			(int)st.rows_skipped, "reloads_ok", (int)st.reloads_ok,
			"reloads_failed", (int)st.reloads_failed);
}

rpc_export_t sbct_rpc_cmds[] = {
		{"sbc_tenant.reload", sbct_rpc_reload, sbct_rpc_reload_doc, 0},
		{"sbc_tenant.lookup", sbct_rpc_lookup, sbct_rpc_lookup_doc, 0},
		{"sbc_tenant.stats", sbct_rpc_stats, sbct_rpc_stats_doc, 0},
		{0, 0, 0, 0}};
