/*
 * sbc_tenant - change tracking: reload when the database says so
 */

#ifndef _SBCT_TRACK_H_
#define _SBCT_TRACK_H_

extern int sbct_reload_check_interval; /* ms, 0 = off */

/* mod_init: registers the timer process (if change tracking is on) */
int sbct_track_mod_init(void);
/* child_init: forks it from PROC_MAIN */
int sbct_track_child_init(int rank);

#endif
