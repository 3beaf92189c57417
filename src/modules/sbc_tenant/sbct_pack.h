/*
 * sbc_tenant - the packed did_routing record format (pure C, no Kamailio)
 *
 * sbct_db_packed.c asks MySQL for chunks of did_routing rows packed into
 * one text value each; this parses one record of such a value:
 *
 *   id "," enabled "," tenant_id "," gateway_group "," priority ","
 *   HEX(did) "," HEX(gateway_uri)
 *
 * Integers are decimal, SQL NULL is "N", strings are hex (so no byte of
 * a column can look like a separator). Records are separated by ";".
 */

#ifndef _SBCT_PACK_H_
#define _SBCT_PACK_H_

#include <stddef.h>

#define SBCT_HEX_MAX 1024 /* decoded bytes kept per string column */

typedef struct sbct_prec
{
	long long id, enabled, tenant, group, priority;
	int null_enabled, null_tenant, null_group, null_priority;
	int null_did, null_uri;
	int did_long, uri_long; /* longer than SBCT_HEX_MAX: not decoded */
	char did[SBCT_HEX_MAX];
	size_t did_len;
	char uri[SBCT_HEX_MAX];
	size_t uri_len;
} sbct_prec_t;

/* parses the record [s, end) (without its ";"); 0, or -1 if malformed
 * (missing or extra fields, bad number, bad hex, NULL id) */
int sbct_pack_record(const char *s, const char *end, sbct_prec_t *r);

#endif
