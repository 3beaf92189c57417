/*
 * sbc_tenant - the live index in shared memory and its atomic reload
 */

#ifndef _SBCT_RELOAD_H_
#define _SBCT_RELOAD_H_

#include <stdint.h>
#include <time.h>

#include "sbct_index.h"

#define SBCT_REASON_SIZE 192

/* who asked for a reload */
#define SBCT_TRIGGER_START 0 /* initial load in mod_init */
#define SBCT_TRIGGER_RPC 1	 /* sbc_tenant.reload */
#define SBCT_TRIGGER_TIMER 2 /* change tracking saw a new version */

/* outcome of one reload */
typedef struct sbct_reload_info
{
	uint32_t tenants;	/* tenants in the new index */
	uint32_t dids;		/* DID patterns in the new index */
	uint32_t skipped;	/* bad rows + duplicates, not loaded */
	uint32_t disabled;	/* did_routing rows with enabled=0, not loaded */
	uint32_t duplicates; /* ... of skipped: duplicate DID patterns */
	uint64_t index_bytes; /* shm block of the new index */
	uint64_t duration_ms; /* whole reload, incl. waiting for readers */
	uint64_t db_ms;		  /* reading the tables into the builder */
	uint64_t build_ms;	  /* building the index block */
	int has_version;	  /* the version row was read before the rows */
	uint64_t version;	  /* ... and said this */
} sbct_reload_info_t;

/* totals kept in shm, exported as statistics and by sbc_tenant.stats */
typedef struct sbct_reload_stats
{
	unsigned long reloads_ok;
	unsigned long reloads_failed;
	unsigned long dids_loaded;  /* in the live index */
	unsigned long rows_skipped; /* by the load of the live index */
	unsigned long rows_disabled; /* did_routing enabled=0, live index */
	unsigned long index_bytes;
	/* the live index */
	int live_has_version;
	uint64_t live_version; /* sbc_routing_version it was loaded at */
	time_t live_time;	   /* when it went live */
	uint64_t live_duration_ms;
	uint64_t live_db_ms;
	uint64_t live_build_ms;
	/* the last attempt, successful or not */
	time_t last_time;
	int last_ok;
	int last_trigger;
	uint64_t last_duration_ms;
	char last_reason[SBCT_REASON_SIZE]; /* "" when it worked */
	/* change tracking (written by the timer process only) */
	unsigned long version_checks;
	unsigned long version_check_errors;
	unsigned long timer_reloads_ok;
	unsigned long timer_reloads_failed;
	int db_has_version;
	uint64_t db_version; /* last version the timer read */
	char check_error[SBCT_REASON_SIZE]; /* last failed check, "" if none */
} sbct_reload_stats_t;

/* mod_init: shared state and reload lock */
int sbct_shared_init(void);
/* child_init(PROC_INIT): one reader slot per process */
int sbct_slots_init(int nprocs);
void sbct_shared_destroy(void);

/* builds a new index from the database and swaps it in; on failure the
 * live index stays and reason says why. Serialized by a lock. trigger:
 * SBCT_TRIGGER_*, for the statistics. */
int sbct_reload(int trigger, sbct_reload_info_t *info, char *reason,
		int reason_size);

/* change tracking, called by the timer process: the version of the live
 * index (0 if unknown) */
int sbct_live_version(uint64_t *version);
/* records the outcome of one version check (timer process only) */
void sbct_note_version_check(int ok, uint64_t version, const char *error);
void sbct_note_timer_reload(int ok);

const char *sbct_trigger_str(int trigger);

/* reader side: the index stays valid until sbct_reader_leave(); returns
 * NULL when no index is loaded (or this process has no slot). Never
 * blocks, never nests. */
const sbct_index_t *sbct_reader_enter(void);
void sbct_reader_leave(void);

void sbct_reload_stats(sbct_reload_stats_t *st);

#endif
