/*
 * rating_agent module - begin/end bound to the dialog
 *
 * This file is part of Kamailio, a free SIP server.
 *
 * Kamailio is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version
 */

#include <stdint.h>
#include <string.h>
#include <time.h>

#include "../../core/dprint.h"
#include "../../core/kemi.h"
#include "../../core/locking.h"
#include "../../core/mem/mem.h"
#include "../../core/mem/shm_mem.h"
#include "../../modules/dialog/dlg_load.h"

#include "ra_mod.h"
#include "ra_outbox.h"
#include "ra_stats.h"
#include "ra_dialog.h"

#define RA_CALL_LOCKS 64

enum ra_call_state { RA_CS_NEW = 0, RA_CS_BEGUN, RA_CS_ENDED };

/* per rated call, the dialog callback parameter (shm) */
typedef struct ra_call {
	int state;
	int pin; /* outbox store of the call's records so far */
	int len;
	char tmpl[1]; /* encoded record template: every field but kind/ts */
} ra_call_t;

static gen_lock_set_t *ra_call_locks = NULL;
static str ra_var_rec = str_init("ra_rec");
static str ra_var_state = str_init("ra_state");
static str ra_var_node = str_init("ra_node");

static void ra_dlg_cb(struct dlg_cell *dlg, int type, struct dlg_cb_params *p);
static void ra_dlg_loaded(
		struct dlg_cell *dlg, int type, struct dlg_cb_params *p);

int ra_dialog_init(void)
{
	ra_call_locks = lock_set_alloc(RA_CALL_LOCKS);
	if(ra_call_locks == NULL || lock_set_init(ra_call_locks) == NULL) {
		LM_ERR("cannot create the call locks\n");
		return -1;
	}
	if(ra_have_dlg
			&& ra_dlgb.register_dlgcb(NULL, DLGCB_LOADED, ra_dlg_loaded, NULL,
					   NULL)
					   != 0) {
		LM_ERR("cannot register the dialog load callback\n");
		return -1;
	}
	return 0;
}

static int lock_idx(ra_call_t *c)
{
	return (int)(((uintptr_t)c >> 4) % RA_CALL_LOCKS);
}

static void save_state(struct dlg_cell *dlg, int state)
{
	char b[2];
	str v;

	b[0] = (char)('0' + state);
	b[1] = '\0';
	v.s = b;
	v.len = 1;
	if(dlg && ra_dlgb.set_dlg_var(dlg, &ra_var_state, &v) != 0)
		LM_DBG("cannot save the rating state in the dialog\n");
}

/* one record of a call from its template, stamped now; 0 or -1 */
static int queue_from(const char *tmpl, int len, ra_rec_kind_t kind, int *pin)
{
	ra_rec_t rec;
	int rc;

	if(ra_rec_decode(tmpl, len, &rec) < 0) {
		LM_ERR("bad call template: %s record lost\n", ra_rec_kind_name(kind));
		return -1;
	}
	rec.kind = kind;
	rec.ts = (long long)time(NULL);
	rec.created_ms = ra_now_ms();
	rec.seq = ra_next_seq();
	rc = ra_outbox_put(&rec, pin);
	if(rc == 0)
		LM_DBG("%s of Call-ID %s queued (ts %lld)\n", ra_rec_kind_name(kind),
				rec.tag, rec.ts);
	ra_rec_free(&rec);
	return rc;
}

/* queue one record of the call; under the call's lock so that begin is
 * always stored before end */
static void queue_record(ra_call_t *c, ra_rec_kind_t kind)
{
	queue_from(c->tmpl, c->len, kind, &c->pin);
}

/* this node's name in the dialog: the call is bound here */
static void mark_node(struct dlg_cell *dlg)
{
	str v;

	v.s = ra_instance;
	v.len = strlen(ra_instance);
	if(ra_dlgb.set_dlg_var(dlg, &ra_var_node, &v) != 0)
		LM_WARN("cannot name this node in the dialog: another node ending the"
				" call would not write its end\n");
}

static void ra_dlg_cb(struct dlg_cell *dlg, int type, struct dlg_cb_params *p)
{
	ra_call_t *c;
	int li, changed = -1;

	if(p == NULL || p->param == NULL || *p->param == NULL)
		return;
	c = (ra_call_t *)*p->param;
	li = lock_idx(c);
	lock_set_get(ra_call_locks, li);
	if(type & (DLGCB_CONFIRMED_NA | DLGCB_CONFIRMED)) {
		if(c->state == RA_CS_NEW) {
			queue_record(c, RA_REC_BEGIN);
			c->state = RA_CS_BEGUN;
			changed = c->state;
		}
	} else if(type & (DLGCB_TERMINATED | DLGCB_EXPIRED)) {
		if(c->state == RA_CS_BEGUN) {
			queue_record(c, RA_REC_END);
			c->state = RA_CS_ENDED;
			changed = c->state;
		}
	}
	lock_set_release(ra_call_locks, li);
	/* outside our lock: the dialog takes its own entry lock */
	if(changed >= 0)
		save_state(dlg, changed);
}

static void ra_call_free(void *param)
{
	shm_free(param);
}

static ra_call_t *call_new(const char *tmpl, int len, int state)
{
	ra_call_t *c = shm_malloc(sizeof(*c) + len);

	if(c == NULL) {
		SHM_MEM_ERROR;
		return NULL;
	}
	memset(c, 0, sizeof(*c));
	c->state = state;
	c->len = len;
	memcpy(c->tmpl, tmpl, len);
	c->tmpl[len] = '\0';
	return c;
}

static int attach(struct dlg_cell *dlg, ra_call_t *c)
{
	if(ra_dlgb.register_dlgcb(dlg,
			   DLGCB_CONFIRMED_NA | DLGCB_CONFIRMED | DLGCB_TERMINATED
					   | DLGCB_EXPIRED,
			   ra_dlg_cb, c, ra_call_free)
			!= 0) {
		LM_ERR("cannot register dialog callbacks\n");
		shm_free(c);
		return -1;
	}
	return 0;
}

/* template record of the call from the message */
static int build_template(sip_msg_t *msg, char *out, int outlen)
{
	ra_msg_fields_t mf;
	ra_rec_t r;

	if(ra_msg_fields(msg, &mf) < 0)
		return -1;
	memset(&r, 0, sizeof(r));
	r.kind = RA_REC_BEGIN;
	r.tag = mf.req.transaction_tag;
	r.tenant = mf.req.tenant;
	r.account = mf.req.account_tag;
	r.dest_account = mf.req.destination_account_tag;
	r.source = mf.req.source;
	r.source_ip = mf.req.source_ip;
	r.destination = mf.req.destination;
	r.carrier_ip = mf.req.carrier_ip;
	return ra_rec_encode(&r, out, outlen);
}

/* dialog's own dlg_set_timeout through its KEMI export: the dialog API
 * has no timeout setter, the KEMI function is the stable interface */
static int set_timeout(sip_msg_t *msg, long long units)
{
	static sr_kemi_t *ket = NULL;
	static int looked = 0;
	sr_kemi_module_t *mods;
	sr_kemi_t *k;
	int i, n;

	if(!looked) {
		looked = 1;
		mods = sr_kemi_modules_get();
		n = sr_kemi_modules_size_get();
		for(i = 0; i < n && ket == NULL; i++) {
			if(mods[i].mname.len != 6
					|| strncmp(mods[i].mname.s, "dialog", 6) != 0)
				continue;
			for(k = mods[i].kexp; k && k->fname.s; k++) {
				if(k->fname.len == 15
						&& strncmp(k->fname.s, "dlg_set_timeout", 15) == 0
						&& k->ptypes[0] == SR_KEMIP_INT
						&& k->ptypes[1] == SR_KEMIP_NONE) {
					ket = k;
					break;
				}
			}
		}
		if(ket == NULL)
			LM_ERR("dialog.dlg_set_timeout not found: calls are not limited "
				   "to max_available_units\n");
	}
	if(ket == NULL)
		return -1;
	if(units > 0x7fffffff)
		units = 0x7fffffff;
	return ((sr_kemi_fmn_f)ket->func)(msg, (int)units) > 0 ? 0 : -1;
}

/* the Call-ID for log lines */
static str *cid(sip_msg_t *msg)
{
	static str none = str_init("?");

	if((msg->callid == NULL && parse_headers(msg, HDR_CALLID_F, 0) < 0)
			|| msg->callid == NULL)
		return &none;
	return &msg->callid->body;
}

int ra_dialog_bind(sip_msg_t *msg, long long units, int quiet)
{
	char tmpl[RA_REC_MAX_LEN];
	struct dlg_cell *dlg;
	ra_call_t *c;
	str v;
	int len, ret = 1;

	if(!ra_have_dlg) {
		if(!quiet)
			LM_ERR("dialog module not loaded\n");
		return -1;
	}
	dlg = ra_dlgb.get_dlg(msg);
	if(dlg == NULL) {
		LM_WARN("no dialog for Call-ID %.*s: begin/end will not be sent "
				"(call dlg_manage() before rating_agent_authorize())\n",
				cid(msg)->len, cid(msg)->s);
		return -1;
	}
	if(ra_dlgb.get_dlg_varstatus(dlg, &ra_var_state) != 0) {
		ret = 2;
		goto timeout;
	}
	len = build_template(msg, tmpl, sizeof(tmpl));
	if(len < 0) {
		LM_ERR("cannot build the record template of Call-ID %.*s: no "
			   "begin/end\n",
				cid(msg)->len, cid(msg)->s);
		ra_dlgb.release_dlg(dlg);
		return -1;
	}
	c = call_new(tmpl, len, RA_CS_NEW);
	if(c == NULL || attach(dlg, c) < 0) {
		ra_dlgb.release_dlg(dlg);
		return -1;
	}
	v.s = tmpl;
	v.len = len;
	ra_dlgb.set_dlg_var(dlg, &ra_var_rec, &v);
	mark_node(dlg);
	save_state(dlg, RA_CS_NEW);
timeout:
	ra_dlgb.release_dlg(dlg);
	if(units > 0 && set_timeout(msg, units) < 0)
		LM_ERR("cannot set the dialog timeout of Call-ID %.*s to %lld s\n",
				cid(msg)->len, cid(msg)->s, units);
	return ret;
}

/* dialogs restored from the database after a restart */
static void ra_dlg_loaded(
		struct dlg_cell *dlg, int type, struct dlg_cb_params *p)
{
	str rec = STR_NULL, st = STR_NULL;
	ra_call_t *c;
	int state;

	(void)type;
	(void)p;
	if(ra_dlgb.get_dlg_vardup(dlg, &ra_var_rec, &rec) != 0 || rec.s == NULL)
		return;
	state = RA_CS_NEW;
	if(ra_dlgb.get_dlg_vardup(dlg, &ra_var_state, &st) == 0 && st.s) {
		if(st.len == 1 && st.s[0] >= '0' && st.s[0] <= '2')
			state = st.s[0] - '0';
		pkg_free(st.s);
	}
	if(state != RA_CS_ENDED) {
		c = call_new(rec.s, rec.len, state);
		/* a restored call was bound before: pin unknown, Redis first */
		if(c && attach(dlg, c) == 0) {
			mark_node(dlg);
			LM_DBG("rated call restored (state %d)\n", state);
		}
	}
	pkg_free(rec.s);
}

int ra_dialog_end(sip_msg_t *msg)
{
	struct dlg_cell *dlg;
	str rec = STR_NULL, node = STR_NULL;
	int pin = RA_PIN_NONE, rc = -1;

	if(!ra_have_dlg || (dlg = ra_dlgb.get_dlg(msg)) == NULL)
		return -1;
	if(ra_dlgb.get_dlg_vardup(dlg, &ra_var_rec, &rec) != 0 || rec.s == NULL) {
		ra_dlgb.release_dlg(dlg);
		return -1;
	}
	if(ra_dlgb.get_dlg_vardup(dlg, &ra_var_node, &node) != 0)
		node.s = NULL;
	ra_dlgb.release_dlg(dlg);
	if(node.s == NULL) {
		LM_WARN("rated call without ra_node, Call-ID %.*s: cannot tell which"
				" node writes its end\n",
				cid(msg)->len, cid(msg)->s);
	} else if(node.len == (int)strlen(ra_instance)
			  && memcmp(node.s, ra_instance, node.len) == 0) {
		rc = 1;
	} else {
		rc = queue_from(rec.s, rec.len, RA_REC_END, &pin);
		if(rc == 0) {
			LM_INFO("end of Call-ID %.*s, a call of node %.*s, written here "
					"(the call ended on this node)\n",
					cid(msg)->len, cid(msg)->s, node.len, node.s);
			ra_stat_inc(RA_ST_OUTBOX_REPLICA_ENDS);
			rc = 2;
		} else if(rc == 1) {
			rc = 3;
		}
	}
	if(node.s)
		pkg_free(node.s);
	pkg_free(rec.s);
	return rc;
}
