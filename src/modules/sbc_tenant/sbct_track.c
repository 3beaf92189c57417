/*
 * sbc_tenant - change tracking: reload when the database says so
 *
 * The schema's triggers bump sbc_routing_version.version (row id = 1) on
 * every insert, update and delete of tenants and did_routing. A timer
 * process of this module reads that number every reload_check_interval
 * ms on its own database connection and reloads the index when it
 * differs from the version the live index was loaded at (each reload
 * reads the version before the rows, so a change committed during a
 * reload is caught by the next tick). An admin therefore only edits rows:
 * they are live about one interval later.
 *
 * The reload runs in the timer process itself: SIP workers never wait for
 * it. A failed check (database down) or reload keeps the live index, is
 * logged (then only every SBCT_TRACK_LOG_EVERY failures until it works
 * again) and counted, and is retried on the next tick.
 */

#include "../../core/dprint.h"
#include "../../core/sr_module.h"
#include "../../core/timer_proc.h"

#include "sbct_db.h"
#include "sbct_reload.h"
#include "sbct_track.h"

#define SBCT_TRACK_LOG_EVERY 60

int sbct_reload_check_interval = 1000; /* ms, 0 = no change tracking */

static unsigned int sbct_track_failures = 0; /* in a row, this process */

static int sbct_track_quiet(void)
{
	/* the first failure of a series, then one in SBCT_TRACK_LOG_EVERY */
	return sbct_track_failures > 1
		   && (sbct_track_failures - 1) % SBCT_TRACK_LOG_EVERY != 0;
}

static void sbct_track_ok(void)
{
	if(sbct_track_failures > 0)
		LM_NOTICE("change tracking works again after %u failed checks\n",
				sbct_track_failures);
	sbct_track_failures = 0;
}

static void sbct_track_tick(unsigned int ticks, void *param)
{
	char reason[SBCT_REASON_SIZE];
	sbct_reload_info_t info;
	uint64_t db_version = 0, live_version = 0;
	int live_known;

	(void)ticks;
	(void)param;
	if(sbct_db_version_poll(&db_version, reason, sizeof(reason)) < 0) {
		sbct_track_failures++;
		sbct_note_version_check(0, 0, reason);
		if(!sbct_track_quiet())
			LM_ERR("change tracking: %s (failure %u in a row; the live index"
				   " is kept, next try in %d ms)\n",
					reason, sbct_track_failures, sbct_reload_check_interval);
		return;
	}
	sbct_note_version_check(1, db_version, "");
	live_known = sbct_live_version(&live_version);
	if(live_known && live_version == db_version) {
		sbct_track_ok();
		return;
	}
	LM_INFO("change tracking: database version %llu, live index %s%llu:"
			" reloading\n",
			(unsigned long long)db_version, live_known ? "" : "unknown ",
			(unsigned long long)live_version);
	if(sbct_reload(SBCT_TRIGGER_TIMER, &info, reason, sizeof(reason)) < 0) {
		/* sbct_reload() logged the reason */
		sbct_track_failures++;
		sbct_note_timer_reload(0);
		return;
	}
	sbct_note_timer_reload(1);
	sbct_track_ok();
}

int sbct_track_mod_init(void)
{
	if(sbct_reload_check_interval < 0)
		sbct_reload_check_interval = 0;
	if(sbct_reload_check_interval == 0 || sbct_version_table.len <= 0) {
		LM_INFO("change tracking off: reload with the sbc_tenant.reload"
				" RPC\n");
		sbct_reload_check_interval = 0;
		return 0;
	}
	/* one more process: the process count (and so the reader slots)
	 * includes it */
	if(register_basic_timers(1) < 0) {
		LM_ERR("cannot register the change tracking process\n");
		return -1;
	}
	return 0;
}

int sbct_track_child_init(int rank)
{
	if(rank != PROC_MAIN || sbct_reload_check_interval <= 0)
		return 0;
	if(fork_basic_utimer(PROC_TIMER, "SBC_TENANT CHANGE TRACKING", 0,
			   sbct_track_tick, NULL, sbct_reload_check_interval * 1000)
			< 0) {
		LM_ERR("cannot start the change tracking process\n");
		return -1;
	}
	return 0;
}
