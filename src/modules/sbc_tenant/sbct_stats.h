/*
 * sbc_tenant - statistics (Kamailio counters, group "sbc_tenant")
 */

#ifndef _SBCT_STATS_H_
#define _SBCT_STATS_H_

/* mod_init: register the counters */
int sbct_stats_init(void);

/* count one lookup by its return code */
void sbct_stats_lookup(int code);

#endif
