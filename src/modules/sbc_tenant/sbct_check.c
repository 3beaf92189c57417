/*
 * sbc_tenant - per-tenant limits for the cfg / KEMI: check_limits()
 *
 * The tenant is the one of the last lookup ($xavp(<xavp>=>tenant_id)),
 * its limits come from the live index (so a reload changes them at once)
 * and its counters from a separate table in shared memory keyed by
 * tenant id (so a reload never resets them; sbct_limits.c).
 *
 * A call that passes holds one concurrent-call slot of its tenant until
 * its dialog ends. The slot is tied to the dialog with dialog module
 * callbacks: TERMINATED (BYE), FAILED (negative final reply: busy,
 * CANCEL/487, 408 timeout), EXPIRED (dialog timeout) and DESTROY (the
 * dialog is freed, e.g. the script replied without relaying). Whichever
 * comes first releases the slot; an atomic flag makes sure it happens
 * exactly once. If the message has no dialog yet the check creates it
 * (dialog's dlg_manage(), as if the script had called it first), so the
 * check can sit right after the lookup; a later dlg_manage() in the
 * script finds the dialog already there and changes nothing.
 *
 * With limits across a cluster (sbct_cluster.c) the decision is Redis'
 * (the node's own counters still count the node's calls, and decide when
 * Redis cannot be reached); the slot is then also the call's lease, and
 * the dialog carries "<owner>|<tenant id>|<Call-ID>" in its variable
 * sbct_lease, replicated to the other nodes with the dialog, so that the
 * node that ends another node's call removes its lease
 * (sbc_tenant_dialog_end(), sbct_dialog_end_msg()).
 */

#include <string.h>
#include <time.h>

#include "../../core/dprint.h"
#include "../../core/mem/shm_mem.h"
#include "../../core/parser/parse_to.h"
#include "../../core/sr_module.h"
#include "../../modules/dialog/dlg_load.h"

#include "sbct_check.h"
#include "sbct_cluster.h"
#include "sbct_index.h"
#include "sbct_limits.h"
#include "sbct_lookup.h"
#include "sbct_reload.h"
#include "sbct_stats.h"

#define SBCT_COUNTERS_MIN 4096

int sbct_counters_size = 0; /* modparam: slots, 0 = automatic */

static sbct_counters_t *_sbct_counters = NULL;
static struct dlg_binds _sbct_dlgb;
static int _sbct_have_dlg = 0;
static cmd_function _sbct_dlg_manage = NULL;

static str _sbct_var_lease = str_init("sbct_lease");

/* the last check of this process: a second check of the same message
 * must not take a second slot */
static struct
{
	unsigned int msg_id;
	int msg_pid;
	int rc;
} _sbct_last = {0, 0, 0};

uint64_t sbct_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SBCT_NS_PER_S + (uint64_t)ts.tv_nsec;
}

int sbct_check_init(uint32_t tenants)
{
	uint32_t cap = (uint32_t)sbct_counters_size;
	void *mem;

	if(sbct_counters_size <= 0) {
		cap = tenants * 4;
		if(cap < SBCT_COUNTERS_MIN)
			cap = SBCT_COUNTERS_MIN;
	}
	mem = shm_malloc(sbct_counters_mem_size(cap));
	if(mem == NULL) {
		SHM_MEM_ERROR;
		return -1;
	}
	_sbct_counters = sbct_counters_init(mem, cap);
	LM_DBG("counters for %u tenants (%lu bytes)\n", cap,
			(unsigned long)sbct_counters_mem_size(cap));

	if(load_dlg_api(&_sbct_dlgb) == 0) {
		_sbct_have_dlg = 1;
		_sbct_dlg_manage = find_export("dlg_manage", 0, 0);
		if(_sbct_dlg_manage == NULL) {
			LM_ERR("dialog module without dlg_manage()\n");
			return -1;
		}
	} else {
		LM_INFO("dialog module not loaded: sbc_tenant_check_limits() can"
				" only check max_cps; tenants with max_calls get -5\n");
	}
	return 0;
}

void sbct_check_destroy(void)
{
	if(_sbct_counters) {
		shm_free(_sbct_counters);
		_sbct_counters = NULL;
	}
}

sbct_counters_t *sbct_counters(void)
{
	return _sbct_counters;
}

/* ---- dialog binding ---------------------------------------------------- */

static void sbct_lease_param_free(void *p)
{
	sbct_lease_free(p);
}

/* gives the call's slot (and its cluster lease) back, once */
static void sbct_dlg_end(struct dlg_cell *dlg, int type,
		struct dlg_cb_params *params)
{
	sbct_lease_t *e;

	(void)dlg;
	(void)type;
	if(params == NULL || params->param == NULL || *params->param == NULL)
		return;
	e = *params->param;
	if(__atomic_exchange_n(&e->released, 1, __ATOMIC_ACQ_REL) == 0) {
		sbct_calls_release(e->counter);
		sbct_cluster_release(e);
	}
}

/* the dialog of an initial INVITE, created if the script did not */
static struct dlg_cell *sbct_msg_dialog(sip_msg_t *msg)
{
	struct dlg_cell *dlg = _sbct_dlgb.get_dlg(msg);

	if(dlg != NULL)
		return dlg;
	if(_sbct_dlg_manage(msg, NULL, NULL) < 0) {
		LM_ERR("dlg_manage() failed\n");
		return NULL;
	}
	return _sbct_dlgb.get_dlg(msg);
}

/* "<owner>|<tenant id>|<Call-ID>" in the dialog: which node holds the
 * lease, for the node that ends the call */
static void sbct_mark_lease(struct dlg_cell *dlg, const sbct_lease_t *e)
{
	char buf[SBCT_LEASE_MEMBER_MAX + 160];
	str v;

	v.s = buf;
	v.len = snprintf(buf, sizeof(buf), "%s|%u|%s", sbct_cluster_owner(),
			e->tenant_id, e->member);
	if(v.len <= 0 || v.len >= (int)sizeof(buf)
			|| _sbct_dlgb.set_dlg_var(dlg, &_sbct_var_lease, &v) != 0)
		LM_WARN("cannot mark the lease of Call-ID [%s] in its dialog: a"
				" node that ends it cannot release it (it runs out)\n",
				e->member);
}

/* ties the slot to the call's dialog (e: the call's lease entry, owned by
 * the dialog callbacks from here on, also on failure) */
static int sbct_bind_slot(sip_msg_t *msg, sbct_lease_t *e)
{
	struct dlg_cell *dlg;

	dlg = sbct_msg_dialog(msg);
	if(dlg == NULL) {
		sbct_lease_free(e);
		return -1;
	}
	if(_sbct_dlgb.register_dlgcb(dlg,
			   DLGCB_TERMINATED | DLGCB_FAILED | DLGCB_EXPIRED
					   | DLGCB_DESTROY,
			   sbct_dlg_end, e, sbct_lease_param_free)
			!= 0) {
		LM_ERR("cannot register the dialog callbacks\n");
		sbct_lease_free(e);
		_sbct_dlgb.release_dlg(dlg);
		return -1;
	}
	if(e->len > 0) {
		sbct_mark_lease(dlg, e);
		sbct_cluster_track(e);
	}
	_sbct_dlgb.release_dlg(dlg);
	return 0;
}

/* ---- the check ----------------------------------------------------------- */

static int sbct_is_initial_invite(sip_msg_t *msg)
{
	if(msg == NULL || msg->first_line.type != SIP_REQUEST
			|| msg->first_line.u.request.method_value != METHOD_INVITE)
		return 0;
	if(msg->to == NULL && (parse_headers(msg, HDR_TO_F, 0) < 0 || !msg->to))
		return 0;
	return get_to(msg)->tag_value.len == 0;
}

/* the raw Call-ID (the cluster lease member); len 0 when there is none */
static str sbct_msg_callid(sip_msg_t *msg)
{
	str none = STR_NULL;

	if((msg->callid == NULL && parse_headers(msg, HDR_CALLID_F, 0) < 0)
			|| msg->callid == NULL)
		return none;
	return msg->callid->body;
}

/* the decision: Redis' when limits are across a cluster and it answers
 * (*by_redis; the node's counters then only count the call), else the
 * node's own counters against the full limits */
static int sbct_decide(sbct_counter_t *c, uint32_t tid, str *cid,
		int32_t max_calls, int32_t max_cps, int *by_redis)
{
	int rc;

	*by_redis = 0;
	if(sbct_cluster_enabled()) {
		rc = sbct_cluster_acquire(tid, cid->s, cid->len, max_calls, max_cps);
		if(rc != SBCT_CLUSTER_DOWN)
			*by_redis = 1;
		if(rc == SBCT_LIMIT_OK)
			return sbct_limits_check(c, 0, 0, sbct_now_ns(), NULL);
		if(rc != SBCT_CLUSTER_DOWN) {
			sbct_limits_count_refusal(c, rc);
			return rc;
		}
	}
	return sbct_limits_check(c, max_calls, max_cps, sbct_now_ns(), NULL);
}

static int sbct_check(sip_msg_t *msg, uint32_t tid)
{
	const sbct_index_t *idx;
	sbct_tenant_info_t ti;
	sbct_counter_t *c;
	sbct_lease_t *e;
	int32_t max_calls = 0, max_cps = 0;
	str cid = sbct_msg_callid(msg);
	int rc, leased;

	/* limits of the live index; a tenant deleted since the lookup has
	 * none (its calls are still counted) */
	idx = sbct_reader_enter();
	if(sbct_index_tenant(idx, tid, &ti) == 0) {
		max_calls = ti.max_calls;
		max_cps = ti.max_cps;
	}
	sbct_reader_leave();

	c = sbct_counter_get(_sbct_counters, tid, 1);
	if(c == NULL) {
		LM_ERR("counters table full (%u tenants): raise the counters_size"
			   " parameter; tenant %u not checked\n",
				sbct_counters_cap(_sbct_counters), tid);
		return SBCT_LIMIT_ERROR;
	}
	if(!_sbct_have_dlg && max_calls > 0) {
		LM_ERR("tenant %u has max_calls %d but the dialog module is not"
			   " loaded\n",
				tid, max_calls);
		return SBCT_LIMIT_ERROR;
	}
	rc = sbct_decide(c, tid, &cid, max_calls, max_cps, &leased);
	if(rc != SBCT_LIMIT_OK) {
		LM_INFO("tenant %u over its %s limit (%d)%s, callid [%s]\n", tid,
				rc == SBCT_LIMIT_CALLS ? "max_calls" : "max_cps",
				rc == SBCT_LIMIT_CALLS ? max_calls : max_cps,
				leased ? " in the cluster" : "", sbct_log_callid(msg));
		return rc;
	}
	if(!_sbct_have_dlg) {
		/* nothing would ever give it back */
		sbct_calls_release(c);
		if(leased)
			sbct_cluster_forget(tid, cid.s, cid.len);
		return rc;
	}
	e = sbct_lease_new(c, tid, cid.s, sbct_cluster_enabled() ? cid.len : 0);
	if(e == NULL || sbct_bind_slot(msg, e) < 0) {
		sbct_calls_release(c);
		if(leased)
			sbct_cluster_forget(tid, cid.s, cid.len);
		return SBCT_LIMIT_ERROR;
	}
	return rc;
}

int sbct_dialog_end_msg(sip_msg_t *msg)
{
	struct dlg_cell *dlg;
	const char *owner = sbct_cluster_owner();
	str v = STR_NULL;
	char *p1, *p2, *end;
	unsigned long tid;
	int rc = -1;

	if(!sbct_cluster_enabled() || !_sbct_have_dlg)
		return -1;
	dlg = _sbct_dlgb.get_dlg(msg);
	if(dlg == NULL)
		return -1;
	if(_sbct_dlgb.get_dlg_vardup(dlg, &_sbct_var_lease, &v) != 0
			|| v.s == NULL) {
		_sbct_dlgb.release_dlg(dlg);
		return -1;
	}
	_sbct_dlgb.release_dlg(dlg);
	p1 = memchr(v.s, '|', v.len);
	p2 = p1 ? memchr(p1 + 1, '|', v.s + v.len - p1 - 1) : NULL;
	if(p1 == NULL || p2 == NULL) {
		LM_WARN("malformed dialog variable sbct_lease [%.*s]\n", v.len, v.s);
	} else if((size_t)(p1 - v.s) == strlen(owner)
			  && memcmp(v.s, owner, p1 - v.s) == 0) {
		rc = 1; /* this node's call: its dialog callbacks release it */
	} else {
		tid = strtoul(p1 + 1, &end, 10);
		if(end != p2 || tid > 0xffffffffUL) {
			LM_WARN("malformed dialog variable sbct_lease [%.*s]\n", v.len,
					v.s);
		} else if(sbct_cluster_release_member((uint32_t)tid, p2 + 1,
						  (int)(v.s + v.len - p2 - 1))
				  == 0) {
			LM_INFO("lease of Call-ID [%.*s] (tenant %lu, node %.*s) released"
					" here: the call ended on this node\n",
					(int)(v.s + v.len - p2 - 1), p2 + 1, tid,
					(int)(p1 - v.s), v.s);
			rc = 2;
		}
	}
	pkg_free(v.s);
	return rc;
}

int sbct_check_limits_msg(sip_msg_t *msg)
{
	uint32_t tid;
	int rc;

	if(_sbct_counters == NULL)
		return SBCT_LIMIT_ERROR;
	if(!sbct_is_initial_invite(msg)) {
		LM_ERR("only for initial INVITEs\n");
		return SBCT_LIMIT_ERROR;
	}
	if(msg->id == _sbct_last.msg_id && msg->pid == _sbct_last.msg_pid
			&& _sbct_last.rc == SBCT_LIMIT_OK) {
		LM_DBG("already checked and counted\n");
		return SBCT_LIMIT_OK;
	}
	if(sbct_xavp_tenant_id(&tid) < 0) {
		LM_WARN("no tenant: call sbc_tenant_lookup() first, callid [%s]\n",
				sbct_log_callid(msg));
		rc = SBCT_LIMIT_NO_TENANT;
	} else {
		rc = sbct_check(msg, tid);
	}
	_sbct_last.msg_id = msg->id;
	_sbct_last.msg_pid = msg->pid;
	_sbct_last.rc = rc;
	sbct_stats_limit(rc);
	return rc;
}
