/*
 * sbc_tenant - loading tenants and did_routing through the Kamailio DB API
 */

#ifndef _SBCT_DB_H_
#define _SBCT_DB_H_

#include <stdint.h>

#include "../../core/str.h"
#include "sbct_index.h"

extern str sbct_db_url;
extern str sbct_tenants_table;
extern str sbct_did_table;
extern int sbct_fetch_rows; /* rows per fetch_result() */
extern str sbct_version_table; /* change tracking, "" = none */

typedef struct sbct_db_counts
{
	uint32_t tenants;		  /* tenant rows added */
	uint32_t tenants_skipped; /* bad tenant rows */
	uint32_t dids;			  /* DID rows added (before duplicates) */
	uint32_t dids_skipped;	  /* bad DID rows */
	uint32_t dids_disabled;	  /* enabled=0, not loaded */
	int has_version;		  /* version below was read */
	uint64_t version;		  /* sbc_routing_version read before the rows */
} sbct_db_counts_t;

/* mod_init: bind the DB module named by db_url */
int sbct_db_bind(void);

/* connects, reads both tables into b, disconnects. Only fixed queries.
 * Returns 0, or -1 with reason set (DB error or out of memory). */
int sbct_db_load(sbct_builder_t *b, sbct_db_counts_t *c, char *reason,
		int reason_size);

/* change tracking: reads the version row (id = 1) of version_table on a
 * connection kept open by the calling process (reconnected after an
 * error). Returns 0 with *version set, or -1 with reason set. */
int sbct_db_version_poll(uint64_t *version, char *reason, int reason_size);
/* closes that connection (process exit) */
void sbct_db_version_close(void);

#endif
