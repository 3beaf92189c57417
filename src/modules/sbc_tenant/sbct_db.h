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

typedef struct sbct_db_counts
{
	uint32_t tenants;		  /* tenant rows added */
	uint32_t tenants_skipped; /* bad tenant rows */
	uint32_t dids;			  /* DID rows added (before duplicates) */
	uint32_t dids_skipped;	  /* bad DID rows */
	uint32_t dids_disabled;	  /* enabled=0, not loaded */
} sbct_db_counts_t;

/* mod_init: bind the DB module named by db_url */
int sbct_db_bind(void);

/* connects, reads both tables into b, disconnects. Only fixed queries.
 * Returns 0, or -1 with reason set (DB error or out of memory). */
int sbct_db_load(sbct_builder_t *b, sbct_db_counts_t *c, char *reason,
		int reason_size);

#endif
