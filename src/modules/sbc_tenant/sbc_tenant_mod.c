/*
 * sbc_tenant - DID -> tenant -> gateway group routing for kamailio-sbc
 *
 * Exports, parameters, init and the cfg/KEMI glue only; the index is in
 * sbct_index.c/sbct_build.c, the database load in sbct_db.c, the live
 * index and its reload in sbct_reload.c (the packed MySQL read of
 * did_routing in sbct_db_packed.c), change tracking in
 * sbct_track.c, the xavp result in sbct_lookup.c, per-tenant limits in
 * sbct_limits.c (counters) and sbct_check.c (cfg check, dialog binding),
 * limits across a cluster in sbct_cluster.c (Redis) and sbct_lease.c (the
 * node's leases), RPC in sbct_rpc.c, statistics in sbct_stats.c.
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 */

#include "../../core/dprint.h"
#include "../../core/kemi.h"
#include "../../core/mod_fix.h"
#include "../../core/pt.h"
#include "../../core/sr_module.h"

#include "sbct_check.h"
#include "sbct_cluster.h"
#include "sbct_db.h"
#include "sbct_db_int.h"
#include "sbct_index.h"
#include "sbct_lookup.h"
#include "sbct_reload.h"
#include "sbct_rpc.h"
#include "sbct_stats.h"
#include "sbct_track.h"

MODULE_VERSION

static int mod_init(void);
static int child_init(int rank);
static void mod_destroy(void);
static int w_sbc_tenant_lookup(sip_msg_t *msg, char *did, char *p2);
static int w_sbc_tenant_check_limits(sip_msg_t *msg, char *p1, char *p2);
static int w_sbc_tenant_dialog_end(sip_msg_t *msg, char *p1, char *p2);

/* clang-format off */
static cmd_export_t cmds[] = {
	{"sbc_tenant_lookup", (cmd_function)w_sbc_tenant_lookup, 1,
		fixup_spve_null, fixup_free_spve_null, ANY_ROUTE},
	{"sbc_tenant_check_limits", (cmd_function)w_sbc_tenant_check_limits, 0,
		0, 0, REQUEST_ROUTE},
	{"sbc_tenant_dialog_end", (cmd_function)w_sbc_tenant_dialog_end, 0,
		0, 0, ANY_ROUTE},
	{0, 0, 0, 0, 0, 0}
};

static param_export_t params[] = {
	{"db_url",        PARAM_STR, &sbct_db_url},
	{"tenants_table", PARAM_STR, &sbct_tenants_table},
	{"did_table",     PARAM_STR, &sbct_did_table},
	{"xavp",          PARAM_STR, &sbct_xavp_name},
	{"fetch_rows",    PARAM_INT, &sbct_fetch_rows},
	{"packed_load",   PARAM_INT, &sbct_packed_load},
	{"version_table", PARAM_STR, &sbct_version_table},
	{"reload_check_interval", PARAM_INT, &sbct_reload_check_interval},
	{"counters_size", PARAM_INT, &sbct_counters_size},
	{"cluster_redis_url", PARAM_STR, &sbct_cluster_redis_url},
	{"cluster_prefix", PARAM_STR, &sbct_cluster_prefix},
	{"cluster_lease", PARAM_INT, &sbct_cluster_lease_s},
	{"cluster_timeout_ms", PARAM_INT, &sbct_cluster_timeout_ms},
	{"node_id", PARAM_STR, &sbct_node_id},
	{0, 0, 0}
};

struct module_exports exports = {
	"sbc_tenant",    /* module name */
	DEFAULT_DLFLAGS, /* dlopen flags */
	cmds,            /* cfg functions */
	params,          /* parameters */
	sbct_rpc_cmds,   /* RPC commands */
	0,               /* pseudo-variables */
	0,               /* response handling function */
	mod_init,        /* module init function */
	child_init,      /* per-child init function */
	mod_destroy      /* module destroy function */
};
/* clang-format on */

static int mod_init(void)
{
	sbct_reload_info_t info;
	char reason[SBCT_REASON_SIZE];

	if(sbct_xavp_name.s == NULL || sbct_xavp_name.len <= 0) {
		LM_ERR("xavp must not be empty\n");
		return -1;
	}
	if(sbct_fetch_rows <= 0)
		sbct_fetch_rows = 1000;
	if(sbct_db_bind() < 0)
		return -1;
	if(sbct_stats_init() < 0)
		return -1;
	if(sbct_shared_init() < 0)
		return -1;
	/* initial load in the main process, like dispatcher: never start
	 * routing calls without a table */
	if(sbct_reload(SBCT_TRIGGER_START, &info, reason, sizeof(reason)) < 0) {
		LM_ERR("initial load failed: %s\n", reason);
		return -1;
	}
	if(sbct_check_init(info.tenants) < 0)
		return -1;
	if(sbct_cluster_mod_init() < 0)
		return -1;
	if(sbct_track_mod_init() < 0)
		return -1;
	return 0;
}

static int child_init(int rank)
{
	/* after every mod_init, before forking: the process count is final */
	if(rank == PROC_INIT)
		return sbct_slots_init(get_max_procs());
	if(sbct_cluster_child_init(rank) < 0)
		return -1;
	return sbct_track_child_init(rank);
}

static void mod_destroy(void)
{
	sbct_shared_destroy();
	sbct_check_destroy();
	sbct_cluster_destroy();
}

static int w_sbc_tenant_lookup(sip_msg_t *msg, char *did, char *p2)
{
	str s = STR_NULL;

	(void)p2;
	if(fixup_get_svalue(msg, (gparam_t *)did, &s) < 0) {
		LM_ERR("cannot get the DID parameter\n");
		return SBCT_ERROR;
	}
	return sbct_lookup_msg(msg, &s);
}

static int w_sbc_tenant_check_limits(sip_msg_t *msg, char *p1, char *p2)
{
	(void)p1;
	(void)p2;
	return sbct_check_limits_msg(msg);
}

static int ki_sbc_tenant_check_limits(sip_msg_t *msg)
{
	return sbct_check_limits_msg(msg);
}

static int w_sbc_tenant_dialog_end(sip_msg_t *msg, char *p1, char *p2)
{
	(void)p1;
	(void)p2;
	return sbct_dialog_end_msg(msg);
}

static int ki_sbc_tenant_dialog_end(sip_msg_t *msg)
{
	return sbct_dialog_end_msg(msg);
}

static int ki_sbc_tenant_lookup(sip_msg_t *msg, str *did)
{
	str s = STR_NULL;

	if(did != NULL)
		s = *did;
	return sbct_lookup_msg(msg, &s);
}

/* clang-format off */
static sr_kemi_t sr_kemi_sbc_tenant_exports[] = {
	{ str_init("sbc_tenant"), str_init("lookup"),
		SR_KEMIP_INT, ki_sbc_tenant_lookup,
		{ SR_KEMIP_STR, SR_KEMIP_NONE, SR_KEMIP_NONE,
			SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE }
	},
	{ str_init("sbc_tenant"), str_init("check_limits"),
		SR_KEMIP_INT, ki_sbc_tenant_check_limits,
		{ SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE,
			SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE }
	},
	{ str_init("sbc_tenant"), str_init("dialog_end"),
		SR_KEMIP_INT, ki_sbc_tenant_dialog_end,
		{ SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE,
			SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE }
	},
	{ {0, 0}, {0, 0}, 0, NULL, { 0, 0, 0, 0, 0, 0 } }
};
/* clang-format on */

int mod_register(char *path, int *dlflags, void *p1, void *p2)
{
	(void)path;
	(void)dlflags;
	(void)p1;
	(void)p2;
	sr_kemi_modules_add(sr_kemi_sbc_tenant_exports);
	return 0;
}
