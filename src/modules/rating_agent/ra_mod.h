/*
 * rating_agent module - settings and helpers shared by the module files
 *
 * This file is part of Kamailio, a free SIP server.
 *
 * Kamailio is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version
 */

#ifndef _RA_MOD_H_
#define _RA_MOD_H_

#include <sys/time.h>
#include <time.h>

#include "../../core/str.h"
#include "../../core/pvar.h"
#include "../../modules/tm/tm_load.h"
#include "../../modules/dialog/dlg_load.h"

#include "ra_decide.h"
#include "ra_reason.h"

/* the request fields taken from the SIP message, each a pseudo-variable */
typedef enum ra_field {
	RA_F_TENANT = 0,
	RA_F_ACCOUNT,
	RA_F_DEST_ACCOUNT,
	RA_F_SOURCE,
	RA_F_SOURCE_IP,
	RA_F_DESTINATION,
	RA_F_CARRIER_IP,
	RA_F_COUNT
} ra_field_t;

typedef struct ra_settings {
	str agent_url;
	int timeout_ms;
	int connect_timeout_ms;
	int workers;
	int max_connections;
	ra_fail_policy_t fail_policy;
	ra_reply_t fail_reply;
	ra_reason_map_t *reasons;
	str tenant;
	pv_spec_t *field_pv[RA_F_COUNT]; /* NULL: field not sent */
	str xavp;
	int dialog_bind;
	str redis_url;
	str redis_prefix;
	int redis_timeout_ms;
	int retry_min_ms;
	int retry_max_ms;
	int outbox_timeout_ms;
	int outbox_max_inflight;
	int shm_max_records;
	str node_id;
	int outbox_lease_ms;
	int end_guard_ttl;
} ra_settings_t;

extern ra_settings_t ra_set;
/* this running node: node_id (or host name) / start time in ms */
extern char ra_instance[160];
extern struct tm_binds ra_tmb;
extern struct dlg_binds ra_dlgb;
extern int ra_have_dlg;

/* Unix time in milliseconds (wall clock, for records and ages) */
static inline long long ra_now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* monotonic milliseconds (for latencies and timers) */
static inline long long ra_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define RA_FIELD_MAX 512

/* the request fields of a message: Call-ID and the pseudo-variables;
 * req points into the buffers (tenant falls back to modparam tenant) */
typedef struct ra_msg_fields {
	char tag[RA_FIELD_MAX];
	char val[RA_F_COUNT][RA_FIELD_MAX];
	ra_req_fields_t req;
} ra_msg_fields_t;

/* -1 when the Call-ID is missing or longer than RA_FIELD_MAX - 1; field
 * values are cut to RA_FIELD_MAX - 1 bytes, null ones are "" */
int ra_msg_fields(sip_msg_t *msg, ra_msg_fields_t *mf);

#endif
