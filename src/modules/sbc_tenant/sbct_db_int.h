/*
 * sbc_tenant - internals shared by the database loaders (sbct_db.c row by
 * row through the DB API, sbct_db_packed.c packed chunks for MySQL)
 */

#ifndef _SBCT_DB_INT_H_
#define _SBCT_DB_INT_H_

#include <stdint.h>

#include "../../lib/srdb1/db.h"
#include "sbct_index.h"

/* what a row handler returns */
#define SBCT_ROW_OK 0
#define SBCT_ROW_SKIP 1
#define SBCT_ROW_DISABLED 2
#define SBCT_ROW_FATAL (-1)

typedef struct sbct_scan_counts
{
	uint32_t ok, skipped, disabled;
} sbct_scan_counts_t;

extern db_func_t sbct_dbf;
extern int sbct_packed_load; /* modparam */

/* logs a skipped row (the first ones of a table) and returns
 * SBCT_ROW_SKIP */
int sbct_skip(const char *table, uint32_t id, const char *why, int *warned);

/* the reason a failed query of table reports to the RPC and the log */
void sbct_query_failed(char *reason, size_t reason_size, const str *table);

/* adds a did_routing row that passed the column checks to the builder;
 * returns SBCT_ROW_OK, SBCT_ROW_SKIP or SBCT_ROW_FATAL (out of memory) */
int sbct_did_add(sbct_builder_t *b, const sbct_did_row_t *r, int *warned);

/* did_routing as packed chunks of rows (MySQL/MariaDB). Returns 0, -1
 * (reason set) or 1 when the packed query cannot be used here (the
 * caller then reads row by row). */
int sbct_scan_dids_packed(db1_con_t *con, sbct_builder_t *b,
		sbct_scan_counts_t *cnt, char *reason, int reason_size);

#endif
