/*
 * sbc_tenant - statistics (Kamailio counters, group "sbc_tenant")
 */

#ifndef _SBCT_STATS_H_
#define _SBCT_STATS_H_

/* mod_init: register the counters */
int sbct_stats_init(void);

/* count one lookup by its return code */
void sbct_stats_lookup(int code);

/* count one limit check by its return code */
void sbct_stats_limit(int code);

/* totals over all processes, for sbc_tenant.stats */
typedef struct sbct_stats_snap
{
	unsigned long lookups_exact;
	unsigned long lookups_prefix;
	unsigned long lookups_not_found;
	unsigned long lookups_disabled;
	unsigned long lookups_invalid;
	unsigned long limits_passed;
	unsigned long limits_rejected_calls;
	unsigned long limits_rejected_cps;
	unsigned long limits_no_tenant;
	unsigned long limits_errors;
} sbct_stats_snap_t;

void sbct_stats_get(sbct_stats_snap_t *s);

/* live calls of all tenants (slots held) */
unsigned long sbct_live_calls_total(void);

#endif
