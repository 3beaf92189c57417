/*
 * sbc_tenant - statistics (Kamailio counters, group "sbc_tenant")
 *
 * Lookup and limit-check counters are per process counters (no shared
 * cache line, no lock). Reload figures live in shm next to the index and
 * live calls in the counters table; both are read through callbacks, so
 * they are right whichever process changed them.
 * Read them with `kamcmd stats.get_statistics sbc_tenant:` or
 * `kamcmd cnt.grp_get_all sbc_tenant`.
 */

#include "../../core/counters.h"
#include "../../core/dprint.h"

#include "sbct_check.h"
#include "sbct_cluster.h"
#include "sbct_index.h"
#include "sbct_limits.h"
#include "sbct_reload.h"
#include "sbct_stats.h"

static counter_handle_t sbct_cnt_exact;
static counter_handle_t sbct_cnt_prefix;
static counter_handle_t sbct_cnt_not_found;
static counter_handle_t sbct_cnt_disabled;
static counter_handle_t sbct_cnt_invalid;
static counter_handle_t sbct_cnt_lim_ok;
static counter_handle_t sbct_cnt_lim_calls;
static counter_handle_t sbct_cnt_lim_cps;
static counter_handle_t sbct_cnt_lim_no_tenant;
static counter_handle_t sbct_cnt_lim_error;

enum
{
	SBCT_ST_RELOADS_OK = 1,
	SBCT_ST_RELOADS_FAILED,
	SBCT_ST_DIDS_LOADED,
	SBCT_ST_ROWS_SKIPPED,
	SBCT_ST_VERSION_CHECK_ERRORS,
	SBCT_ST_CHANGE_RELOADS,
	SBCT_ST_LIVE_CALLS,
	SBCT_ST_CLUSTER_FALLBACK,
	SBCT_ST_CLUSTER_ERRORS
};

static counter_val_t sbct_reload_cnt(counter_handle_t h, void *param)
{
	sbct_reload_stats_t st;

	(void)h;
	sbct_reload_stats(&st);
	switch((int)(long)param) {
		case SBCT_ST_RELOADS_OK:
			return (counter_val_t)st.reloads_ok;
		case SBCT_ST_RELOADS_FAILED:
			return (counter_val_t)st.reloads_failed;
		case SBCT_ST_DIDS_LOADED:
			return (counter_val_t)st.dids_loaded;
		case SBCT_ST_ROWS_SKIPPED:
			return (counter_val_t)st.rows_skipped;
		case SBCT_ST_VERSION_CHECK_ERRORS:
			return (counter_val_t)st.version_check_errors;
		case SBCT_ST_CHANGE_RELOADS:
			return (counter_val_t)st.timer_reloads_ok;
		case SBCT_ST_LIVE_CALLS:
			return (counter_val_t)sbct_live_calls_total();
		case SBCT_ST_CLUSTER_FALLBACK:
			return (counter_val_t)sbct_cluster_fallback_checks();
		case SBCT_ST_CLUSTER_ERRORS:
			return (counter_val_t)sbct_cluster_redis_errors();
	}
	return 0;
}

unsigned long sbct_live_calls_total(void)
{
	sbct_counters_t *t = sbct_counters();
	sbct_counter_snap_t s;
	sbct_counter_t *c;
	unsigned long sum = 0;
	uint32_t i;

	for(i = 0; i < sbct_counters_cap(t); i++) {
		c = sbct_counter_at(t, i);
		if(c == NULL)
			continue;
		sbct_counter_snapshot(c, 0, &s);
		sum += (unsigned long)s.calls;
	}
	return sum;
}

static counter_def_t sbct_cnt_defs[] = {
		{&sbct_cnt_exact, "lookups_exact", 0, 0, 0,
				"lookups that found an exact DID"},
		{&sbct_cnt_prefix, "lookups_prefix", 0, 0, 0,
				"lookups that found a prefix"},
		{&sbct_cnt_not_found, "lookups_not_found", 0, 0, 0,
				"lookups that found nothing"},
		{&sbct_cnt_disabled, "lookups_disabled", 0, 0, 0,
				"lookups that found a disabled tenant"},
		{&sbct_cnt_invalid, "lookups_invalid", 0, 0, 0,
				"lookups of an invalid DID"},
		{&sbct_cnt_lim_ok, "limits_passed", 0, 0, 0,
				"limit checks passed (the call holds a slot)"},
		{&sbct_cnt_lim_calls, "limits_rejected_calls", 0, 0, 0,
				"calls refused: tenant at max_calls"},
		{&sbct_cnt_lim_cps, "limits_rejected_cps", 0, 0, 0,
				"calls refused: tenant over max_cps"},
		{&sbct_cnt_lim_no_tenant, "limits_no_tenant", 0, 0, 0,
				"limit checks without a tenant from a lookup"},
		{&sbct_cnt_lim_error, "limits_errors", 0, 0, 0,
				"limit checks that failed (no dialog, table full)"},
		{0, "live_calls", CNT_F_NO_RESET, sbct_reload_cnt,
				(void *)(long)SBCT_ST_LIVE_CALLS,
				"calls holding a tenant slot now"},
		{0, "version_check_errors", CNT_F_NO_RESET, sbct_reload_cnt,
				(void *)(long)SBCT_ST_VERSION_CHECK_ERRORS,
				"change tracking: failed reads of the version row"},
		{0, "change_reloads", CNT_F_NO_RESET, sbct_reload_cnt,
				(void *)(long)SBCT_ST_CHANGE_RELOADS,
				"change tracking: successful reloads"},
		{0, "reloads_ok", CNT_F_NO_RESET, sbct_reload_cnt,
				(void *)(long)SBCT_ST_RELOADS_OK,
				"successful index loads (incl. the initial one)"},
		{0, "reloads_failed", CNT_F_NO_RESET, sbct_reload_cnt,
				(void *)(long)SBCT_ST_RELOADS_FAILED,
				"failed reloads (old index kept)"},
		{0, "dids_loaded", CNT_F_NO_RESET, sbct_reload_cnt,
				(void *)(long)SBCT_ST_DIDS_LOADED,
				"DID patterns in the live index"},
		{0, "rows_skipped", CNT_F_NO_RESET, sbct_reload_cnt,
				(void *)(long)SBCT_ST_ROWS_SKIPPED,
				"rows skipped by the load of the live index"},
		{0, "cluster_fallback_checks", CNT_F_NO_RESET, sbct_reload_cnt,
				(void *)(long)SBCT_ST_CLUSTER_FALLBACK,
				"limit checks done on this node's counters: cluster Redis"
				" not reachable"},
		{0, "cluster_redis_errors", CNT_F_NO_RESET, sbct_reload_cnt,
				(void *)(long)SBCT_ST_CLUSTER_ERRORS,
				"failed cluster Redis connections and commands"},
		{0, 0, 0, 0, 0, 0}};

int sbct_stats_init(void)
{
	if(counter_register_array("sbc_tenant", sbct_cnt_defs) < 0) {
		LM_ERR("cannot register the statistics\n");
		return -1;
	}
	return 0;
}

void sbct_stats_lookup(int code)
{
	switch(code) {
		case SBCT_EXACT:
			counter_inc(sbct_cnt_exact);
			break;
		case SBCT_PREFIX:
			counter_inc(sbct_cnt_prefix);
			break;
		case SBCT_NOT_FOUND:
			counter_inc(sbct_cnt_not_found);
			break;
		case SBCT_DISABLED:
			counter_inc(sbct_cnt_disabled);
			break;
		case SBCT_INVALID:
			counter_inc(sbct_cnt_invalid);
			break;
	}
}

void sbct_stats_limit(int code)
{
	switch(code) {
		case SBCT_LIMIT_OK:
			counter_inc(sbct_cnt_lim_ok);
			break;
		case SBCT_LIMIT_CALLS:
			counter_inc(sbct_cnt_lim_calls);
			break;
		case SBCT_LIMIT_CPS:
			counter_inc(sbct_cnt_lim_cps);
			break;
		case SBCT_LIMIT_NO_TENANT:
			counter_inc(sbct_cnt_lim_no_tenant);
			break;
		default:
			counter_inc(sbct_cnt_lim_error);
	}
}

void sbct_stats_get(sbct_stats_snap_t *s)
{
	s->lookups_exact = counter_get_val(sbct_cnt_exact);
	s->lookups_prefix = counter_get_val(sbct_cnt_prefix);
	s->lookups_not_found = counter_get_val(sbct_cnt_not_found);
	s->lookups_disabled = counter_get_val(sbct_cnt_disabled);
	s->lookups_invalid = counter_get_val(sbct_cnt_invalid);
	s->limits_passed = counter_get_val(sbct_cnt_lim_ok);
	s->limits_rejected_calls = counter_get_val(sbct_cnt_lim_calls);
	s->limits_rejected_cps = counter_get_val(sbct_cnt_lim_cps);
	s->limits_no_tenant = counter_get_val(sbct_cnt_lim_no_tenant);
	s->limits_errors = counter_get_val(sbct_cnt_lim_error);
}
