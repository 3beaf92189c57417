/*
 * sbc_tenant - the live index in shared memory and its atomic reload
 */

#ifndef _SBCT_RELOAD_H_
#define _SBCT_RELOAD_H_

#include <stdint.h>

#include "sbct_index.h"

#define SBCT_REASON_SIZE 192

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
} sbct_reload_info_t;

/* totals kept in shm, exported as statistics */
typedef struct sbct_reload_stats
{
	unsigned long reloads_ok;
	unsigned long reloads_failed;
	unsigned long dids_loaded;  /* in the live index */
	unsigned long rows_skipped; /* by the load of the live index */
	unsigned long index_bytes;
} sbct_reload_stats_t;

/* mod_init: shared state and reload lock */
int sbct_shared_init(void);
/* child_init(PROC_INIT): one reader slot per process */
int sbct_slots_init(int nprocs);
void sbct_shared_destroy(void);

/* builds a new index from the database and swaps it in; on failure the
 * live index stays and reason says why. Serialized by a lock. */
int sbct_reload(sbct_reload_info_t *info, char *reason, int reason_size);

/* reader side: the index stays valid until sbct_reader_leave(); returns
 * NULL when no index is loaded (or this process has no slot). Never
 * blocks, never nests. */
const sbct_index_t *sbct_reader_enter(void);
void sbct_reader_leave(void);

void sbct_reload_stats(sbct_reload_stats_t *st);

#endif
