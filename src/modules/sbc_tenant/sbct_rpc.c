/*
 * sbc_tenant - RPC commands
 *
 *   sbc_tenant.reload        reload from the database (old index kept on
 *                            failure: fault 500 with the reason)
 *   sbc_tenant.lookup <did>  the lookup the cfg would do, as a struct
 *   sbc_tenant.list [id]     tenants with limits and live counters
 *   sbc_tenant.stats         index, reloads, change tracking, lookups,
 *                            limits
 */

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../../core/dprint.h"
#include "../../core/rpc.h"

#include "sbct_check.h"
#include "sbct_index.h"
#include "sbct_cluster.h"
#include "sbct_limits.h"
#include "sbct_lookup.h"
#include "sbct_reload.h"
#include "sbct_rpc.h"
#include "sbct_stats.h"
#include "sbct_track.h"

static const char *sbct_rpc_reload_doc[] = {
		"Reload tenants and DIDs from the database; on failure the current"
		" index is kept and the reason is returned",
		0};

static void sbct_rpc_reload(rpc_t *rpc, void *ctx)
{
	sbct_reload_info_t info;
	char reason[SBCT_REASON_SIZE];
	void *th;

	if(sbct_reload(SBCT_TRIGGER_RPC, &info, reason, sizeof(reason)) < 0) {
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
	str tenant, uri, attrs;
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
	attrs.s = (char *)r.attrs;
	attrs.len = found ? (int)r.attrs_len : 0;
	/* strings are copied into the reply while the slot is held */
	if(rpc->add(ctx, "{", &th) < 0) {
		sbct_reader_leave();
		rpc->fault(ctx, 500, "Internal error creating the reply");
		return;
	}
	rpc->struct_add(th, "dssdSddSSss", "code", rc, "result", sbct_code_str(rc),
			"match", found ? (r.is_prefix ? "prefix" : "exact") : "",
			"tenant_id", found ? (int)r.tenant_id : 0, "tenant",
			found ? &tenant : &empty, "gateway_group",
			found ? (int)r.gateway_group : 0, "fallback_group",
			found ? (int)r.fallback_group : 0, "gateway_uri",
			(found && r.gateway_uri) ? &uri : &empty, "attrs",
			found ? &attrs : &empty, "pattern", r.pattern,
			"did", r.did);
	sbct_reader_leave();
}

/* ---- list ---------------------------------------------------------- */

static void sbct_rpc_tenant(rpc_t *rpc, void *ctx, const sbct_tenant_info_t *ti,
		uint64_t now)
{
	sbct_counter_snap_t cs;
	sbct_counter_t *c;
	str name, attrs;
	void *th;

	memset(&cs, 0, sizeof(cs));
	c = sbct_counter_get(sbct_counters(), ti->id, 0);
	if(c)
		sbct_counter_snapshot(c, now, &cs);
	name.s = (char *)ti->name;
	name.len = (int)ti->name_len;
	attrs.s = (char *)ti->attrs;
	attrs.len = (int)ti->attrs_len;
	if(rpc->add(ctx, "{", &th) < 0)
		return;
	rpc->struct_add(th, "uSdddddSdddJJJ", "id", ti->id, "name", &name,
			"enabled", ti->enabled, "gateway_group", ti->gateway_group,
			"fallback_group", ti->fallback_group, "max_calls", ti->max_calls,
			"max_cps", ti->max_cps, "attrs", &attrs, "calls", cs.calls,
			"calls_last_second",
			(int)cs.calls_last_second, "calls_this_second",
			(int)cs.calls_this_second, "accepted",
			(unsigned long long)cs.accepted, "rejected_calls",
			(unsigned long long)cs.rejected_calls, "rejected_cps",
			(unsigned long long)cs.rejected_cps);
	/* live calls of every node (-1: Redis not reachable from here) */
	if(sbct_cluster_enabled())
		rpc->struct_add(th, "L", "cluster_calls",
				sbct_cluster_tenant_calls(ti->id));
}

static const char *sbct_rpc_list_doc[] = {
		"Tenants of the live index with their groups, limits and live"
		" counters (params: optional tenant id)",
		0};

static void sbct_rpc_list(rpc_t *rpc, void *ctx)
{
	const sbct_index_t *idx;
	sbct_tenant_info_t ti;
	uint64_t now = sbct_now_ns();
	int id = -1;
	uint32_t i;

	if(rpc->scan(ctx, "*d", &id) < 1)
		id = -1;
	/* names are copied into the reply while the slot is held; a reload
	 * waits for that (milliseconds even for many tenants) */
	idx = sbct_reader_enter();
	if(idx == NULL) {
		sbct_reader_leave();
		rpc->fault(ctx, 500, "No index loaded");
		return;
	}
	if(id >= 0) {
		if(sbct_index_tenant(idx, (uint32_t)id, &ti) < 0) {
			sbct_reader_leave();
			rpc->fault(ctx, 404, "No tenant with id %d", id);
			return;
		}
		sbct_rpc_tenant(rpc, ctx, &ti, now);
	} else {
		for(i = 0; sbct_index_tenant_at(idx, i, &ti) == 0; i++)
			sbct_rpc_tenant(rpc, ctx, &ti, now);
	}
	sbct_reader_leave();
}

/* ---- stats ---------------------------------------------------------- */

static const char *sbct_time_str(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if(t == 0 || gmtime_r(&t, &tm) == NULL)
		return "";
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

static void sbct_rpc_stats_index(rpc_t *rpc, void *th,
		const sbct_reload_stats_t *st)
{
	const sbct_index_t *idx;
	uint32_t tenants, exact, prefixes;
	char tbuf[32];
	void *sub;

	idx = sbct_reader_enter();
	tenants = sbct_index_tenants(idx);
	sbct_index_counts(idx, &exact, &prefixes);
	sbct_reader_leave();
	rpc->struct_add(th, "uuuuJuu", "tenants", tenants, "dids",
			exact + prefixes, "exact", exact, "prefixes", prefixes,
			"index_bytes", (unsigned long long)st->index_bytes, "rows_skipped",
			(unsigned)st->rows_skipped, "rows_disabled",
			(unsigned)st->rows_disabled);
	if(rpc->struct_add(th, "{", "live", &sub) < 0)
		return;
	rpc->struct_add(sub, "sLJJJ", "loaded_at",
			sbct_time_str(st->live_time, tbuf, sizeof(tbuf)), "version",
			st->live_has_version ? (long long)st->live_version : -1LL,
			"duration_ms", (unsigned long long)st->live_duration_ms, "db_ms",
			(unsigned long long)st->live_db_ms, "build_ms",
			(unsigned long long)st->live_build_ms);
}

static void sbct_rpc_stats_reloads(rpc_t *rpc, void *th,
		const sbct_reload_stats_t *st)
{
	char tbuf[32];
	void *sub;

	if(rpc->struct_add(th, "{", "last_reload", &sub) >= 0)
		rpc->struct_add(sub, "sssJsJJ", "time",
				sbct_time_str(st->last_time, tbuf, sizeof(tbuf)), "result",
				st->last_time == 0 ? "" : (st->last_ok ? "ok" : "failed"),
				"trigger", sbct_trigger_str(st->last_trigger), "duration_ms",
				(unsigned long long)st->last_duration_ms, "reason",
				st->last_reason, "reloads_ok",
				(unsigned long long)st->reloads_ok, "reloads_failed",
				(unsigned long long)st->reloads_failed);
	if(rpc->struct_add(th, "{", "change_tracking", &sub) >= 0)
		rpc->struct_add(sub, "dLJJsJJ", "interval_ms",
				sbct_reload_check_interval, "db_version",
				st->db_has_version ? (long long)st->db_version : -1LL,
				"checks", (unsigned long long)st->version_checks,
				"check_errors", (unsigned long long)st->version_check_errors,
				"last_error", st->check_error, "reloads_ok",
				(unsigned long long)st->timer_reloads_ok, "reloads_failed",
				(unsigned long long)st->timer_reloads_failed);
}

static void sbct_rpc_stats_calls(rpc_t *rpc, void *th)
{
	sbct_stats_snap_t s;
	void *sub;

	sbct_stats_get(&s);
	if(rpc->struct_add(th, "{", "lookups", &sub) >= 0)
		rpc->struct_add(sub, "JJJJJJJ", "hits",
				(unsigned long long)(s.lookups_exact + s.lookups_prefix),
				"misses", (unsigned long long)s.lookups_not_found, "exact",
				(unsigned long long)s.lookups_exact, "prefix",
				(unsigned long long)s.lookups_prefix, "not_found",
				(unsigned long long)s.lookups_not_found, "disabled",
				(unsigned long long)s.lookups_disabled, "invalid",
				(unsigned long long)s.lookups_invalid);
	if(rpc->struct_add(th, "{", "limits", &sub) >= 0)
		rpc->struct_add(sub, "JJJJJJuu", "passed",
				(unsigned long long)s.limits_passed, "rejected_calls",
				(unsigned long long)s.limits_rejected_calls, "rejected_cps",
				(unsigned long long)s.limits_rejected_cps, "no_tenant",
				(unsigned long long)s.limits_no_tenant, "errors",
				(unsigned long long)s.limits_errors, "live_calls",
				(unsigned long long)sbct_live_calls_total(), "counters_used",
				sbct_counters_used(sbct_counters()), "counters_size",
				sbct_counters_cap(sbct_counters()));
}

static const char *sbct_rpc_stats_doc[] = {
		"Live index, reloads, change tracking, lookups and limit checks", 0};

static void sbct_rpc_stats(rpc_t *rpc, void *ctx)
{
	sbct_reload_stats_t st;
	void *th;

	sbct_reload_stats(&st);
	if(rpc->add(ctx, "{", &th) < 0) {
		rpc->fault(ctx, 500, "Internal error creating the reply");
		return;
	}
	sbct_rpc_stats_index(rpc, th, &st);
	sbct_rpc_stats_reloads(rpc, th, &st);
	sbct_rpc_stats_calls(rpc, th);
	sbct_cluster_rpc_stats(rpc, th);
}

rpc_export_t sbct_rpc_cmds[] = {
		{"sbc_tenant.reload", sbct_rpc_reload, sbct_rpc_reload_doc, 0},
		{"sbc_tenant.lookup", sbct_rpc_lookup, sbct_rpc_lookup_doc, 0},
		{"sbc_tenant.list", sbct_rpc_list, sbct_rpc_list_doc, RET_ARRAY},
		{"sbc_tenant.stats", sbct_rpc_stats, sbct_rpc_stats_doc, 0},
		{0, 0, 0, 0}};
