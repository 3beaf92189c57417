/*
 * rating_agent module - asynchronous authorization and durable begin/end
 * towards a Canyan-style rating agent (REST, see README)
 *
 * Glue only: exports, parameters, init, process creation, KEMI.
 *
 * This file is part of Kamailio, a free SIP server.
 *
 * Kamailio is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version
 */

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../../core/sr_module.h"
#include "../../core/dprint.h"
#include "../../core/mod_fix.h"
#include "../../core/pt.h"
#include "../../core/route.h"
#include "../../core/kemi.h"
#include "../../core/daemonize.h"
#include "../../core/xavp.h"
#include "../../core/cfg/cfg_struct.h"

#include "ra_mod.h"
#include "ra_compat.h"
#include "ra_stats.h"
#include "ra_http.h"
#include "ra_async.h"
#include "ra_dialog.h"
#include "ra_outbox.h"
#include "ra_outbox_redis.h"
#include "ra_sender.h"
#include "ra_rpc.h"

MODULE_VERSION

ra_settings_t ra_set;
char ra_instance[160];
struct tm_binds ra_tmb;
struct dlg_binds ra_dlgb;
int ra_have_dlg = 0;

/* modparam strings, turned into ra_set in mod_init */
static char *p_agent_url = "http://127.0.0.1:8000";
static char *p_fail_policy = "closed";
static char *p_fail_reply = "500 Rating not available";
static char *p_tenant = "default";
static char *p_xavp = "ra";
static char *p_redis_url = "";
static char *p_redis_prefix = "ra";
static char *p_node_id = "";
static char *p_field[RA_F_COUNT] = {"$xavp(sbct=>tenant)", "$fU", "", "$fu",
		"$si", "$tu", ""};
static ra_reason_map_t *p_reasons = NULL;

static int mod_init(void);
static int child_init(int rank);
static void mod_destroy(void);
static int reason_map_param(modparam_t type, void *val);

static sr_kemi_t sr_kemi_rating_agent_exports[];

static int w_authorize(sip_msg_t *msg, char *route, char *p2);
static int w_reply(sip_msg_t *msg, char *p1, char *p2);
static int w_dialog(sip_msg_t *msg, char *p1, char *p2);
static int w_dialog_end(sip_msg_t *msg, char *p1, char *p2);

static cmd_export_t cmds[] = {
		{"rating_agent_authorize", (cmd_function)w_authorize, 1,
				fixup_spve_null, fixup_free_spve_null, REQUEST_ROUTE},
		{"rating_agent_reply", (cmd_function)w_reply, 0, 0, 0,
				REQUEST_ROUTE | FAILURE_ROUTE},
		{"rating_agent_dialog", (cmd_function)w_dialog, 0, 0, 0,
				REQUEST_ROUTE | FAILURE_ROUTE | BRANCH_ROUTE},
		{"rating_agent_dialog_end", (cmd_function)w_dialog_end, 0, 0, 0,
				ANY_ROUTE},
		{0, 0, 0, 0, 0, 0}};

static param_export_t params[] = {
		{"agent_url", PARAM_STRING, &p_agent_url},
		{"timeout_ms", PARAM_INT, &ra_set.timeout_ms},
		{"connect_timeout_ms", PARAM_INT, &ra_set.connect_timeout_ms},
		{"workers", PARAM_INT, &ra_set.workers},
		{"max_connections", PARAM_INT, &ra_set.max_connections},
		{"fail_policy", PARAM_STRING, &p_fail_policy},
		{"fail_reply", PARAM_STRING, &p_fail_reply},
		{"reason_map", PARAM_STRING | PARAM_USE_FUNC, (void *)reason_map_param},
		{"tenant", PARAM_STRING, &p_tenant},
		{"tenant_pv", PARAM_STRING, &p_field[RA_F_TENANT]},
		{"account_pv", PARAM_STRING, &p_field[RA_F_ACCOUNT]},
		{"destination_account_pv", PARAM_STRING, &p_field[RA_F_DEST_ACCOUNT]},
		{"source_pv", PARAM_STRING, &p_field[RA_F_SOURCE]},
		{"source_ip_pv", PARAM_STRING, &p_field[RA_F_SOURCE_IP]},
		{"destination_pv", PARAM_STRING, &p_field[RA_F_DESTINATION]},
		{"carrier_ip_pv", PARAM_STRING, &p_field[RA_F_CARRIER_IP]},
		{"xavp", PARAM_STRING, &p_xavp},
		{"dialog_bind", PARAM_INT, &ra_set.dialog_bind},
		{"redis_url", PARAM_STRING, &p_redis_url},
		{"redis_prefix", PARAM_STRING, &p_redis_prefix},
		{"redis_timeout_ms", PARAM_INT, &ra_set.redis_timeout_ms},
		{"retry_min_ms", PARAM_INT, &ra_set.retry_min_ms},
		{"retry_max_ms", PARAM_INT, &ra_set.retry_max_ms},
		{"outbox_timeout_ms", PARAM_INT, &ra_set.outbox_timeout_ms},
		{"outbox_max_inflight", PARAM_INT, &ra_set.outbox_max_inflight},
		{"shm_max_records", PARAM_INT, &ra_set.shm_max_records},
		{"node_id", PARAM_STRING, &p_node_id},
		{"outbox_lease_ms", PARAM_INT, &ra_set.outbox_lease_ms},
		{"end_guard_ttl", PARAM_INT, &ra_set.end_guard_ttl},
		{0, 0, 0}};

struct module_exports exports = {
		"rating_agent",	 /* module name */
		DEFAULT_DLFLAGS, /* dlopen flags */
		cmds,			 /* exported functions */
		params,			 /* exported parameters */
		0,				 /* RPC methods (registered in mod_init) */
		0,				 /* exported pseudo-variables */
		0,				 /* response handling function */
		mod_init,		 /* module init function */
		child_init,		 /* per-child init function */
		mod_destroy		 /* module destroy function */
};

static void set_defaults(void)
{
	static int done = 0;

	if(done)
		return;
	done = 1;
	ra_set.timeout_ms = 2000;
	ra_set.connect_timeout_ms = 500;
	ra_set.workers = 2;
	ra_set.max_connections = 32;
	ra_set.dialog_bind = 1;
	ra_set.redis_timeout_ms = 500;
	ra_set.retry_min_ms = 500;
	ra_set.retry_max_ms = 30000;
	ra_set.outbox_timeout_ms = 5000;
	ra_set.outbox_max_inflight = 16;
	ra_set.shm_max_records = 100000;
}

/* modparams are set after the module is loaded: defaults go in here */
int mod_register(char *path, int *dlflags, void *p1, void *p2)
{
	(void)path;
	(void)dlflags;
	(void)p1;
	(void)p2;
	set_defaults();
	sr_kemi_modules_add(sr_kemi_rating_agent_exports);
	return 0;
}

static int reason_map_param(modparam_t type, void *val)
{
	char err[128];

	(void)type;
	if(p_reasons == NULL && (p_reasons = ra_reason_map_new()) == NULL) {
		LM_ERR("no memory for the reason map\n");
		return -1;
	}
	if(ra_reason_map_set(p_reasons, (char *)val, err, sizeof(err)) < 0) {
		LM_ERR("reason_map [%s]: %s\n", (char *)val, err);
		return -1;
	}
	return 0;
}

static int setup_fields(void)
{
	str s;
	int i;

	for(i = 0; i < RA_F_COUNT; i++) {
		ra_set.field_pv[i] = NULL;
		if(p_field[i] == NULL || p_field[i][0] == '\0')
			continue;
		s.s = p_field[i];
		s.len = strlen(s.s);
		ra_set.field_pv[i] = pv_cache_get(&s);
		if(ra_set.field_pv[i] == NULL) {
			LM_ERR("invalid pseudo-variable [%s]\n", p_field[i]);
			return -1;
		}
	}
	return 0;
}

static void field_get(sip_msg_t *msg, ra_field_t f, char *buf, int len)
{
	pv_value_t v;
	int n = 0;

	buf[0] = '\0';
	if(ra_set.field_pv[f] == NULL)
		return;
	memset(&v, 0, sizeof(v));
	if(pv_get_spec_value(msg, ra_set.field_pv[f], &v) != 0
			|| (v.flags & PV_VAL_NULL))
		return;
	if(v.flags & PV_VAL_STR) {
		n = v.rs.len < len - 1 ? v.rs.len : len - 1;
		memcpy(buf, v.rs.s, n);
	} else if(v.flags & PV_VAL_INT) {
		n = snprintf(buf, len, "%ld", (long)v.ri);
		if(n < 0 || n >= len)
			n = 0;
	}
	buf[n] = '\0';
}

int ra_msg_fields(sip_msg_t *msg, ra_msg_fields_t *mf)
{
	ra_req_fields_t *f = &mf->req;
	int i;

	if((msg->callid == NULL && parse_headers(msg, HDR_CALLID_F, 0) < 0)
			|| msg->callid == NULL || msg->callid->body.len <= 0
			|| msg->callid->body.len >= RA_FIELD_MAX)
		return -1;
	memcpy(mf->tag, msg->callid->body.s, msg->callid->body.len);
	mf->tag[msg->callid->body.len] = '\0';
	for(i = 0; i < RA_F_COUNT; i++)
		field_get(msg, (ra_field_t)i, mf->val[i], RA_FIELD_MAX);
	memset(f, 0, sizeof(*f));
	f->transaction_tag = mf->tag;
	f->tenant = mf->val[RA_F_TENANT][0] ? mf->val[RA_F_TENANT] : ra_set.tenant.s;
	f->account_tag = mf->val[RA_F_ACCOUNT];
	f->destination_account_tag = mf->val[RA_F_DEST_ACCOUNT];
	f->source = mf->val[RA_F_SOURCE];
	f->source_ip = mf->val[RA_F_SOURCE_IP];
	f->destination = mf->val[RA_F_DESTINATION];
	f->carrier_ip = mf->val[RA_F_CARRIER_IP];
	return 0;
}

static int check_settings(void)
{
	char err[128];

	if(strcasecmp(p_fail_policy, "closed") == 0) {
		ra_set.fail_policy = RA_FAIL_CLOSED;
	} else if(strcasecmp(p_fail_policy, "open") == 0) {
		ra_set.fail_policy = RA_FAIL_OPEN;
	} else {
		LM_ERR("fail_policy must be 'closed' or 'open'\n");
		return -1;
	}
	if(ra_reply_parse(p_fail_reply, &ra_set.fail_reply, err, sizeof(err))
			< 0) {
		LM_ERR("fail_reply [%s]: %s\n", p_fail_reply, err);
		return -1;
	}
	if(p_reasons == NULL && (p_reasons = ra_reason_map_new()) == NULL)
		return -1;
	ra_set.reasons = p_reasons;
	if(ra_set.workers < 1 || ra_set.max_connections < 1 || ra_set.timeout_ms < 1
			|| ra_set.connect_timeout_ms < 1 || ra_set.outbox_timeout_ms < 1
			|| ra_set.outbox_max_inflight < 1 || ra_set.retry_min_ms < 1
			|| ra_set.retry_max_ms < ra_set.retry_min_ms
			|| ra_set.shm_max_records < 1 || ra_set.redis_timeout_ms < 1) {
		LM_ERR("workers, max_connections, timeouts, outbox_max_inflight, "
			   "shm_max_records "
			   "must be >= 1 and retry_max_ms >= retry_min_ms\n");
		return -1;
	}
	if(p_xavp[0] == '\0' || p_tenant[0] == '\0'
			|| strncmp(p_agent_url, "http", 4) != 0) {
		LM_ERR("xavp and tenant must not be empty, agent_url must be "
			   "http(s)://...\n");
		return -1;
	}
	ra_set.agent_url.s = p_agent_url;
	ra_set.agent_url.len = strlen(p_agent_url);
	while(ra_set.agent_url.len > 0
			&& ra_set.agent_url.s[ra_set.agent_url.len - 1] == '/')
		ra_set.agent_url.len--;
	ra_set.tenant.s = p_tenant;
	ra_set.tenant.len = strlen(p_tenant);
	ra_set.xavp.s = p_xavp;
	ra_set.xavp.len = strlen(p_xavp);
	ra_set.redis_url.s = p_redis_url;
	ra_set.redis_url.len = strlen(p_redis_url);
	ra_set.redis_prefix.s = p_redis_prefix;
	ra_set.redis_prefix.len = strlen(p_redis_prefix);
	ra_set.node_id.s = p_node_id;
	ra_set.node_id.len = strlen(p_node_id);
	if(ra_set.end_guard_ttl < 0) {
		LM_ERR("end_guard_ttl must be >= 0\n");
		return -1;
	}
	if(ra_set.outbox_lease_ms < 0
			|| (ra_set.outbox_lease_ms > 0
					&& ra_set.outbox_lease_ms <= ra_set.outbox_timeout_ms)) {
		LM_ERR("outbox_lease_ms must be 0 (automatic) or longer than "
			   "outbox_timeout_ms\n");
		return -1;
	}
	return setup_fields();
}

/* node_id (or the host name) / start time: who bound a dialog, and who
 * wrote a call's end record */
static void ra_instance_init(void)
{
	char host[128];

	if(ra_set.node_id.len > 0) {
		snprintf(host, sizeof(host), "%.*s", ra_set.node_id.len,
				ra_set.node_id.s);
	} else if(gethostname(host, sizeof(host)) != 0) {
		snprintf(host, sizeof(host), "node");
	}
	host[sizeof(host) - 1] = '\0';
	snprintf(ra_instance, sizeof(ra_instance), "%s/%lld", host, ra_now_ms());
}

static int mod_init(void)
{
	set_defaults();
	if(check_settings() < 0)
		return -1;
	ra_instance_init();
	if(load_tm_api(&ra_tmb) < 0) {
		LM_ERR("the tm module is required\n");
		return -1;
	}
	if(find_export("load_dlg", 0, 0) != NULL && load_dlg_api(&ra_dlgb) == 0)
		ra_have_dlg = 1;
	else
		LM_WARN("dialog module not loaded: no begin/end, no call limit\n");
	if(ra_http_global_init() < 0 || ra_stats_init() < 0
			|| ra_redis_config() < 0 || ra_outbox_init() < 0
			|| ra_async_init() < 0 || ra_dialog_init() < 0
			|| ra_rpc_init() < 0)
		return -1;
	/* the authorization workers run cfg routes, the sender does not */
	register_procs(ra_set.workers + 1);
	cfg_register_child(ra_set.workers);
	LM_INFO("agent %.*s, %d workers, timeout %d ms, fail policy %s\n",
			ra_set.agent_url.len, ra_set.agent_url.s, ra_set.workers,
			ra_set.timeout_ms,
			ra_set.fail_policy == RA_FAIL_OPEN ? "open" : "closed");
	return 0;
}

static int fork_workers(void)
{
	int i, pid;

	for(i = 0; i < ra_set.workers; i++) {
		pid = fork_process(PROC_SIPRPC, "rating_agent authorization worker", 1);
		if(pid < 0)
			return -1;
		if(pid == 0) {
			if(cfg_child_init())
				return -1;
			ra_async_worker_main(i);
			ksr_exit(-1);
		}
	}
	pid = fork_process(PROC_NOCHLDINIT, "rating_agent outbox sender", 0);
	if(pid < 0)
		return -1;
	if(pid == 0) {
		ra_sender_main();
		ksr_exit(-1);
	}
	return 0;
}

static int child_init(int rank)
{
	if(rank == PROC_MAIN)
		return fork_workers();
	/* SIP workers only write jobs; the module's own workers (PROC_SIPRPC)
	 * keep their read end */
	if(rank >= PROC_SIPINIT && rank != PROC_SIPRPC)
		ra_async_close_read_ends();
	return 0;
}

static void mod_destroy(void)
{
	ra_outbox_destroy();
	ra_stats_destroy();
}

/* ---- cfg functions ---- */

/* kemi: called from a KEMI script, resume in the function named route;
 * else resume in the native route block (a cfg may have native routing
 * blocks and a KEMI engine at once: the caller decides, not the engine) */
static int do_authorize(sip_msg_t *msg, str *route, int kemi)
{
	int ridx = -1;

	if(route == NULL || route->len <= 0)
		return ra_async_fail(msg, "no route name");
	if(!kemi) {
		ridx = route_lookup(&main_rt, route->s);
		if(ridx < 0 || main_rt.rlist[ridx] == NULL) {
			LM_ERR("route [%.*s] not found or empty\n", route->len, route->s);
			return ra_async_fail(msg, "route not found");
		}
	}
	/* suspended (0) and absorbed retransmissions stop the script */
	return ra_async_authorize(msg, route, ridx) < 0 ? -1 : 0;
}

static int w_authorize(sip_msg_t *msg, char *route, char *p2)
{
	str r;
	char buf[128];

	(void)p2;
	if(fixup_get_svalue(msg, (gparam_t *)route, &r) != 0 || r.len <= 0
			|| r.len >= (int)sizeof(buf))
		return ra_async_fail(msg, "invalid route name");
	/* route_lookup() wants a NUL terminated name */
	memcpy(buf, r.s, r.len);
	buf[r.len] = '\0';
	r.s = buf;
	return do_authorize(msg, &r, 0);
}

static int w_reply(sip_msg_t *msg, char *p1, char *p2)
{
	(void)p1;
	(void)p2;
	return ra_reply(msg);
}

static int ki_dialog(sip_msg_t *msg)
{
	static str nunits = str_init("max_units");
	sr_xavp_t *x;

	x = xavp_get_child_with_ival(&ra_set.xavp, &nunits);
	return ra_dialog_bind(msg, x ? (long long)RA_XVAL_NUM(x->val) : 0, 0);
}

static int w_dialog(sip_msg_t *msg, char *p1, char *p2)
{
	(void)p1;
	(void)p2;
	return ki_dialog(msg);
}

static int ki_dialog_end(sip_msg_t *msg)
{
	return ra_dialog_end(msg);
}

static int w_dialog_end(sip_msg_t *msg, char *p1, char *p2)
{
	(void)p1;
	(void)p2;
	return ki_dialog_end(msg);
}

/* ---- KEMI ---- */

static int ki_authorize(sip_msg_t *msg, str *route)
{
	char buf[128];
	str r;

	if(route == NULL || route->len <= 0 || route->len >= (int)sizeof(buf))
		return ra_async_fail(msg, "invalid function name");
	memcpy(buf, route->s, route->len);
	buf[route->len] = '\0';
	r.s = buf;
	r.len = route->len;
	return do_authorize(msg, &r, 1);
}

static int ki_reply(sip_msg_t *msg)
{
	return ra_reply(msg);
}

/* clang-format off */
static sr_kemi_t sr_kemi_rating_agent_exports[] = {
	{ str_init("rating_agent"), str_init("authorize"),
		SR_KEMIP_INT, ki_authorize,
		{ SR_KEMIP_STR, SR_KEMIP_NONE, SR_KEMIP_NONE,
			SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE }
	},
	{ str_init("rating_agent"), str_init("reply"),
		SR_KEMIP_INT, ki_reply,
		{ SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE,
			SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE }
	},
	{ str_init("rating_agent"), str_init("dialog"),
		SR_KEMIP_INT, ki_dialog,
		{ SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE,
			SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE }
	},
	{ str_init("rating_agent"), str_init("dialog_end"),
		SR_KEMIP_INT, ki_dialog_end,
		{ SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE,
			SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE }
	},
	{ {0, 0}, {0, 0}, 0, NULL, { 0, 0, 0, 0, 0, 0 } }
};
/* clang-format on */
