/*
 * rating_agent module - asynchronous authorization
 *
 * This file is part of Kamailio, a free SIP server.
 *
 * Kamailio is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version
 */

#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <fcntl.h>

#include "../../core/dprint.h"
#include "../../core/xavp.h"
#include "../../core/route.h"
#include "../../core/kemi.h"
#include "../../core/script_cb.h"
#include "../../core/mem/mem.h"
#include "../../core/mem/shm_mem.h"
#include "../../core/parser/parse_from.h"

#include "ra_mod.h"
#include "ra_compat.h"
#include "ra_http.h"
#include "ra_json.h"
#include "ra_stats.h"
#include "ra_dialog.h"
#include "ra_async.h"


typedef struct ra_job {
	unsigned int tindex;
	unsigned int tlabel;
	int ridx; /* route index, -1: KEMI callback name */
	long long t0_ms;
	str rname;
	str callid;
	str body;
	char data[1];
} ra_job_t;

/* a pipe per worker: job pointers (8 bytes, below PIPE_BUF) are written
 * atomically by any number of SIP workers, and 64 KB of pipe hold
 * thousands of them (a unix datagram socket holds only max_dgram_qlen,
 * often 10) */
typedef struct ra_worker {
	int fd[2]; /* [0] read by the worker, [1] written by SIP workers */
} ra_worker_t;

static ra_worker_t *ra_workers = NULL;
static int ra_next_worker = 0;

/* outcome waiting for the pre-script callback of the resumed route; set
 * only around t_continue() in a worker process */
static const ra_outcome_t *ra_pending = NULL;
static long long ra_pending_latency = 0;

static int ra_prescript_cb(sip_msg_t *msg, unsigned int flags, void *param);

int ra_async_init(void)
{
	int i;

	ra_workers = shm_malloc(sizeof(*ra_workers) * ra_set.workers);
	if(ra_workers == NULL) {
		SHM_MEM_ERROR;
		return -1;
	}
	for(i = 0; i < ra_set.workers; i++) {
		if(pipe(ra_workers[i].fd) < 0) {
			LM_ERR("pipe failed: %s\n", strerror(errno));
			return -1;
		}
		/* never block a SIP worker; a full pipe is "queue full" */
		fcntl(ra_workers[i].fd[0], F_SETFL,
				fcntl(ra_workers[i].fd[0], F_GETFL) | O_NONBLOCK);
		fcntl(ra_workers[i].fd[1], F_SETFL,
				fcntl(ra_workers[i].fd[1], F_GETFL) | O_NONBLOCK);
	}
	if(register_script_cb(ra_prescript_cb, PRE_SCRIPT_CB | FAILURE_CB, 0)
			< 0) {
		LM_ERR("cannot register the pre-script callback\n");
		return -1;
	}
	return 0;
}

void ra_async_close_read_ends(void)
{
	int i;

	for(i = 0; i < ra_set.workers; i++)
		close(ra_workers[i].fd[0]);
}

/* ---- xavp ---- */

static int xadd_str(sr_xavp_t **l, const char *name, const char *v)
{
	sr_xval_t val;
	str n;

	n.s = (char *)name;
	n.len = strlen(name);
	memset(&val, 0, sizeof(val));
	val.type = SR_XTYPE_STR;
	val.v.s.s = (char *)v;
	val.v.s.len = strlen(v);
	return xavp_add_value(&n, &val, l) ? 0 : -1;
}

static int xadd_int(sr_xavp_t **l, const char *name, long long v)
{
	sr_xval_t val;
	str n;

	n.s = (char *)name;
	n.len = strlen(name);
	memset(&val, 0, sizeof(val));
	val.type = RA_XTYPE_NUM;
	RA_XVAL_NUM(val) =
			v > 0x7fffffff ? 0x7fffffff : (v < -0x7fffffff ? -0x7fffffff : (int)v);
	return xavp_add_value(&n, &val, l) ? 0 : -1;
}

static int xadd_carriers(sr_xavp_t **l, const ra_auth_resp_t *r)
{
	char buf[RA_HOST_LEN + 64];
	int i;

	/* fields are prepended: add the dearest first so that index 0 is the
	 * cheapest carrier */
	for(i = r->ncarriers - 1; i >= 0; i--) {
		if(ra_carrier_uri(&r->carriers[i], buf, sizeof(buf)) < 0
				|| xadd_str(l, "carrier_uri", buf) < 0)
			return -1;
	}
	for(i = r->ncarriers - 1; i >= 0; i--) {
		if(ra_carrier_str(&r->carriers[i], buf, sizeof(buf)) < 0
				|| xadd_str(l, "carrier", buf) < 0)
			return -1;
	}
	return 0;
}

int ra_xavp_set(const ra_outcome_t *o, long long latency_ms)
{
	sr_xavp_t *list = NULL;
	sr_xval_t root;
	char buf[64];
	const ra_auth_resp_t *r = &o->resp;
	int err = 0;

	if(o->have_resp) {
		err |= xadd_carriers(&list, r);
		if(r->has_balance) {
			snprintf(buf, sizeof(buf), "%.6g", r->balance);
			err |= xadd_str(&list, "balance", buf);
		}
		if(r->unauthorized_account[0])
			err |= xadd_str(&list, "unauthorized_account",
					r->unauthorized_account);
		if(r->authorized_destination >= 0)
			err |= xadd_int(&list, "authorized_destination",
					r->authorized_destination);
	}
	err |= xadd_int(&list, "carriers", o->have_resp ? r->ncarriers : 0);
	err |= xadd_int(&list, "max_units",
			(o->have_resp && r->max_units > 0) ? r->max_units : 0);
	err |= xadd_int(&list, "latency_ms", latency_ms);
	err |= xadd_int(&list, "http_status", o->http_status);
	err |= xadd_str(&list, "error", o->error);
	err |= xadd_str(&list, "reason", o->reason);
	err |= xadd_str(&list, "phrase", o->phrase);
	err |= xadd_int(&list, "code", o->code);
	err |= xadd_str(&list, "outcome", ra_outcome_name(o->kind));
	err |= xadd_int(&list, "authorized", o->proceed);
	if(err) {
		LM_ERR("no memory for the result xavp\n");
		xavp_destroy_list(&list);
		return -1;
	}
	xavp_rm_by_name(&ra_set.xavp, 1, NULL);
	memset(&root, 0, sizeof(root));
	root.type = SR_XTYPE_XAVP;
	root.v.xavp = list;
	if(xavp_add_value(&ra_set.xavp, &root, NULL) == NULL) {
		LM_ERR("cannot add the result xavp\n");
		xavp_destroy_list(&list);
		return -1;
	}
	return 0;
}

/* ---- SIP worker side ---- */

static str *msg_callid(sip_msg_t *msg)
{
	static str none = str_init("");

	if((msg->callid == NULL && parse_headers(msg, HDR_CALLID_F, 0) < 0)
			|| msg->callid == NULL)
		return &none;
	return &msg->callid->body;
}

/* the job could not be handed over: policy applies at once */
int ra_async_fail(sip_msg_t *msg, const char *why)
{
	ra_outcome_t o;
	str *cid = msg_callid(msg);

	ra_stat_inc(RA_ST_AUTH_REQUESTS);
	memset(&o, 0, sizeof(o));
	ra_decide_error(why, ra_set.fail_policy, &ra_set.fail_reply, &o);
	LM_ERR("authorization not sent for Call-ID %.*s: %s (policy %s)\n",
			cid->len, cid->s, why, ra_outcome_name(o.kind));
	ra_stats_auth(o.kind, -1);
	ra_xavp_set(&o, 0);
	return -1;
}

static char *auth_body(sip_msg_t *msg)
{
	ra_msg_fields_t mf;

	if(ra_msg_fields(msg, &mf) < 0)
		return NULL;
	return ra_json_build_request(RA_REQ_AUTHORIZATION, &mf.req, time(NULL));
}

static ra_job_t *job_new(str *rname, int ridx, str *cid, const char *body)
{
	ra_job_t *j;
	int blen = strlen(body);
	char *p;

	j = shm_malloc(sizeof(*j) + rname->len + cid->len + blen + 3);
	if(j == NULL) {
		SHM_MEM_ERROR;
		return NULL;
	}
	memset(j, 0, sizeof(*j));
	j->ridx = ridx;
	j->t0_ms = ra_mono_ms();
	p = j->data;
	j->rname.s = p;
	j->rname.len = rname->len;
	memcpy(p, rname->s, rname->len);
	p += rname->len;
	*p++ = '\0';
	j->callid.s = p;
	j->callid.len = cid->len;
	memcpy(p, cid->s, cid->len);
	p += cid->len;
	*p++ = '\0';
	j->body.s = p;
	j->body.len = blen;
	memcpy(p, body, blen + 1);
	return j;
}

int ra_async_authorize(sip_msg_t *msg, str *rname, int ridx)
{
	tm_cell_t *t;
	ra_job_t *j;
	char *body;
	str *cid;
	int w, ret;

	if(msg->first_line.type != SIP_REQUEST)
		return ra_async_fail(msg, "not a request");
	cid = msg_callid(msg);
	body = auth_body(msg);
	if(body == NULL)
		return ra_async_fail(msg, "no usable Call-ID");
	t = ra_tmb.t_gett();
	if(t == NULL || t == T_UNDEFINED) {
		ret = ra_tmb.t_newtran(msg);
		if(ret == 0) {
			free(body);
			return 1; /* retransmission: tm absorbed it */
		}
		if(ret < 0) {
			free(body);
			return ra_async_fail(msg, "cannot create the transaction");
		}
	}
	j = job_new(rname, ridx, cid, body);
	free(body);
	if(j == NULL)
		return ra_async_fail(msg, "no shared memory");
	if(ra_tmb.t_suspend(msg, &j->tindex, &j->tlabel) != 0) {
		shm_free(j);
		return ra_async_fail(msg, "cannot suspend the transaction");
	}
	w = ra_next_worker++ % ra_set.workers;
	if(write(ra_workers[w].fd[1], &j, sizeof(j)) != sizeof(j)) {
		LM_ERR("worker %d queue: %s\n", w, strerror(errno));
		ra_tmb.t_cancel_suspend(j->tindex, j->tlabel);
		shm_free(j);
		return ra_async_fail(msg, "worker queue full");
	}
	ra_stat_inc(RA_ST_AUTH_REQUESTS);
	return 0;
}

/* ---- worker side ---- */

static int ra_prescript_cb(sip_msg_t *msg, unsigned int flags, void *param)
{
	const ra_outcome_t *o = ra_pending;

	(void)flags;
	(void)param;
	if(o == NULL)
		return 1;
	ra_pending = NULL;
	ra_xavp_set(o, ra_pending_latency);
	if(o->proceed && ra_set.dialog_bind)
		ra_dialog_bind(msg, o->kind == RA_OUT_AUTHORIZED ? o->resp.max_units : 0,
				1);
	return 1;
}

static void resume(ra_job_t *j, const ra_outcome_t *o, long long latency)
{
	static str evname = str_init("rating_agent:authorize");
	struct action *act = NULL;

	ra_pending = o;
	ra_pending_latency = latency;
	if(j->ridx >= 0) {
		act = main_rt.rlist[j->ridx];
		if(act == NULL)
			LM_ERR("route %s is empty: Call-ID %s resumes nowhere\n",
					j->rname.s, j->callid.s);
		else
			ra_tmb.t_continue(j->tindex, j->tlabel, act);
	} else {
		ra_tmb.t_continue_cb(j->tindex, j->tlabel, &j->rname, &evname);
	}
	if(ra_pending != NULL) {
		/* the route did not run: the transaction was cancelled or timed
		 * out meanwhile, and tm has already given it its one reply */
		ra_stat_inc(RA_ST_AUTH_ABANDONED);
		LM_WARN("authorization of Call-ID %s (%s) came back after %lld ms, "
				"the transaction is gone\n",
				j->callid.s, ra_outcome_name(o->kind), latency);
		ra_pending = NULL;
	}
}

static void on_auth_done(
		void *arg, long status, const char *body, size_t len, const char *err)
{
	ra_job_t *j = arg;
	ra_outcome_t o;
	long long latency = ra_mono_ms() - j->t0_ms;

	ra_decide(status, body, len, err, ra_set.reasons, ra_set.fail_policy,
			&ra_set.fail_reply, &o);
	ra_stats_auth(o.kind, latency);
	switch(o.kind) {
		case RA_OUT_FAIL_OPEN:
		case RA_OUT_FAIL_CLOSED:
			LM_ERR("rating agent unusable for Call-ID %s: %s (%lld ms), "
				   "policy %s\n",
					j->callid.s, o.error, latency, ra_outcome_name(o.kind));
			break;
		case RA_OUT_DENIED:
			LM_INFO("Call-ID %s not authorized: reason '%s' -> %d %s\n",
					j->callid.s, o.reason, o.code, o.phrase);
			break;
		default:
			LM_DBG("Call-ID %s authorized for %lld units (%lld ms)\n",
					j->callid.s, o.resp.max_units, latency);
			break;
	}
	if(o.have_resp && o.resp.carriers_skipped > 0)
		LM_WARN("Call-ID %s: %d malformed carriers ignored\n", j->callid.s,
				o.resp.carriers_skipped);
	resume(j, &o, latency);
	shm_free(j);
}

static void start_job(ra_job_t *j)
{
	if(ra_http_post("/v1/authorization", j->body.s, j->body.len,
			   ra_set.timeout_ms, on_auth_done, j)
			< 0)
		on_auth_done(j, 0, "", 0, "cannot send");
}

void ra_async_worker_main(int idx)
{
	int fd = ra_workers[idx].fd[0];
	ra_job_t *j;

	if(ra_http_init() < 0) {
		LM_CRIT("authorization worker %d cannot start\n", idx);
		return;
	}
	LM_INFO("authorization worker %d started\n", idx);
	for(;;) {
		if(ra_http_run(fd, 1000) <= 0)
			continue;
		while(read(fd, &j, sizeof(j)) == sizeof(j))
			start_job(j);
	}
}

/* ---- reply helper ---- */

int ra_reply(sip_msg_t *msg)
{
	static str ncode = str_init("code");
	static str nphrase = str_init("phrase");
	sr_xavp_t *xc, *xp;
	char phrase[RA_PHRASE_LEN];
	int code = ra_set.fail_reply.code;
	tm_cell_t *t;

	snprintf(phrase, sizeof(phrase), "%s", ra_set.fail_reply.phrase);
	xc = xavp_get_child_with_ival(&ra_set.xavp, &ncode);
	xp = xavp_get_child_with_sval(&ra_set.xavp, &nphrase);
	if(xc != NULL) {
		if(RA_XVAL_NUM(xc->val) < 300) {
			LM_DBG("authorized: nothing to reply\n");
			return -1;
		}
		code = (int)RA_XVAL_NUM(xc->val);
		if(xp && xp->val.v.s.len > 0)
			snprintf(phrase, sizeof(phrase), "%.*s", xp->val.v.s.len,
					xp->val.v.s.s);
	} else {
		LM_ERR("no rating result for Call-ID %.*s: replying %d\n",
				msg_callid(msg)->len, msg_callid(msg)->s, code);
	}
	t = ra_tmb.t_gett();
	if((t == NULL || t == T_UNDEFINED) && ra_tmb.t_newtran(msg) < 0) {
		LM_ERR("cannot create a transaction to reply\n");
		return -1;
	}
	if(ra_tmb.t_reply(msg, code, phrase) < 0) {
		LM_ERR("reply %d failed for Call-ID %.*s\n", code,
				msg_callid(msg)->len, msg_callid(msg)->s);
		return -1;
	}
	return 1;
}
