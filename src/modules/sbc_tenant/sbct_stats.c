/*
 * sbc_tenant - statistics (Kamailio counters, group "sbc_tenant")
 *
 * Lookup counters are per process counters (no shared cache line, no
 * lock). Reload figures live in shm next to the index and are read
 * through callbacks, so they are right whichever process reloaded.
 * Read them with `kamcmd stats.get_statistics sbc_tenant:` or
 * `kamcmd cnt.grp_get_all sbc_tenant`.
 */

#include "../../core/counters.h"
#include "../../core/dprint.h"

#include "sbct_index.h"
#include "sbct_reload.h"
#include "sbct_stats.h"

static counter_handle_t sbct_cnt_exact;
static counter_handle_t sbct_cnt_prefix;
static counter_handle_t sbct_cnt_not_found;
static counter_handle_t sbct_cnt_disabled;
static counter_handle_t sbct_cnt_invalid;

enum
{
	SBCT_ST_RELOADS_OK = 1,
	SBCT_ST_RELOADS_FAILED,
	SBCT_ST_DIDS_LOADED,
	SBCT_ST_ROWS_SKIPPED
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
	}
	return 0;
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
