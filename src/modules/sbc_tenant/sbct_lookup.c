/*
 * sbc_tenant - lookup for the cfg / KEMI: result into an xavp
 *
 * $xavp(<name>=>...) after codes 1, 2 and -2 (see README):
 *   tenant_id, tenant, gateway_group, fallback_group, gateway_uri (only
 *   when the DID row has one), attrs (only when the tenant has some), did,
 *   pattern, match.
 * The values are copied out of the index while the reader slot is held.
 */

#include <stdio.h>
#include <string.h>

#include "../../core/dprint.h"
#include "../../core/xavp.h"

#include "sbct_compat.h"
#include "sbct_index.h"
#include "sbct_lookup.h"
#include "sbct_reload.h"
#include "sbct_stats.h"

#define SBCT_LOG_MAX 64 /* input bytes shown in a log line */

str sbct_xavp_name = str_init("sbct");

static str sbct_x_tenant_id = str_init("tenant_id");
static str sbct_x_tenant = str_init("tenant");
static str sbct_x_gateway_group = str_init("gateway_group");
static str sbct_x_fallback_group = str_init("fallback_group");
static str sbct_x_gateway_uri = str_init("gateway_uri");
static str sbct_x_attrs = str_init("attrs");
static str sbct_x_did = str_init("did");
static str sbct_x_pattern = str_init("pattern");
static str sbct_x_match = str_init("match");

const char *sbct_log_str(const char *s, int len, int i)
{
	static char buf[2][SBCT_LOG_MAX * 4 + 8];
	static const char hex[] = "0123456789abcdef";
	char *o = buf[i & 1];
	int k, n = 0;

	if(s == NULL || len <= 0)
		return "";
	for(k = 0; k < len && k < SBCT_LOG_MAX; k++) {
		unsigned char c = (unsigned char)s[k];
		if(c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			o[n++] = (char)c;
		} else {
			o[n++] = '\\';
			o[n++] = 'x';
			o[n++] = hex[c >> 4];
			o[n++] = hex[c & 15];
		}
	}
	if(len > SBCT_LOG_MAX) {
		memcpy(o + n, "...", 3);
		n += 3;
	}
	o[n] = '\0';
	return o;
}

const char *sbct_log_callid(sip_msg_t *msg)
{
	if(msg == NULL)
		return "-";
	if(msg->callid == NULL
			&& (parse_headers(msg, HDR_CALLID_F, 0) < 0 || msg->callid == NULL))
		return "-";
	return sbct_log_str(msg->callid->body.s, msg->callid->body.len, 1);
}

static int sbct_xavp_int(sr_xavp_t **list, str *name, int v)
{
	sr_xval_t val;

	memset(&val, 0, sizeof(val));
	SBCT_XVAL_SET_INT(val, v);
	return xavp_add_value(name, &val, list) ? 0 : -1;
}

static int sbct_xavp_str(sr_xavp_t **list, str *name, const char *s, size_t len)
{
	sr_xval_t val;

	memset(&val, 0, sizeof(val));
	val.type = SR_XTYPE_STR;
	val.v.s.s = (char *)s; /* cloned into shm by xavp_add_value() */
	val.v.s.len = (int)len;
	return xavp_add_value(name, &val, list) ? 0 : -1;
}

/* fields are prepended: add them last to first */
static int sbct_xavp_fill(const sbct_result_t *r)
{
	sr_xavp_t *list = NULL;
	sr_xval_t val;
	const char *match = r->is_prefix ? "prefix" : "exact";

	if(sbct_xavp_str(&list, &sbct_x_match, match, strlen(match)) < 0
			|| sbct_xavp_str(&list, &sbct_x_pattern, r->pattern, r->pattern_len)
					   < 0
			|| sbct_xavp_str(&list, &sbct_x_did, r->did, r->did_len) < 0)
		goto error;
	if(r->attrs_len > 0
			&& sbct_xavp_str(&list, &sbct_x_attrs, r->attrs, r->attrs_len) < 0)
		goto error;
	if(r->gateway_uri
			&& sbct_xavp_str(&list, &sbct_x_gateway_uri, r->gateway_uri,
					   r->gateway_uri_len)
					   < 0)
		goto error;
	if(sbct_xavp_int(&list, &sbct_x_fallback_group, r->fallback_group) < 0
			|| sbct_xavp_int(&list, &sbct_x_gateway_group, r->gateway_group) < 0
			|| sbct_xavp_str(&list, &sbct_x_tenant, r->tenant, r->tenant_len) < 0
			|| sbct_xavp_int(&list, &sbct_x_tenant_id, (int)r->tenant_id) < 0)
		goto error;
	memset(&val, 0, sizeof(val));
	val.type = SR_XTYPE_XAVP;
	val.v.xavp = list;
	if(xavp_add_value(&sbct_xavp_name, &val, NULL) == NULL)
		goto error;
	return 0;

error:
	LM_ERR("cannot create xavp %.*s (out of shared memory?)\n",
			sbct_xavp_name.len, sbct_xavp_name.s);
	if(list)
		xavp_destroy_list(&list);
	return -1;
}

int sbct_xavp_tenant_id(uint32_t *id)
{
	sr_xavp_t *x, *f;
	long long v;
	char buf[16];

	x = xavp_get(&sbct_xavp_name, NULL);
	if(x == NULL || x->val.type != SR_XTYPE_XAVP)
		return -1;
	f = xavp_get(&sbct_x_tenant_id, x->val.v.xavp);
	if(f == NULL)
		return -1;
	if(sbct_xval_get_ll(&f->val, &v) < 0) {
		/* set by the script as text */
		if(f->val.type != SR_XTYPE_STR || f->val.v.s.len <= 0
				|| f->val.v.s.len >= (int)sizeof(buf))
			return -1;
		memcpy(buf, f->val.v.s.s, f->val.v.s.len);
		buf[f->val.v.s.len] = '\0';
		if(sscanf(buf, "%lld", &v) != 1)
			return -1;
	}
	if(v < 0 || v > 0xffffffffLL)
		return -1;
	*id = (uint32_t)v;
	return 0;
}

int sbct_lookup_msg(sip_msg_t *msg, str *did)
{
	const sbct_index_t *idx;
	sbct_result_t res;
	int rc;

	xavp_rm_by_name(&sbct_xavp_name, 1, NULL);
	idx = sbct_reader_enter();
	rc = sbct_lookup(idx, did->len > 0 ? did->s : NULL,
			did->len > 0 ? (size_t)did->len : 0, &res);
	if((rc == SBCT_EXACT || rc == SBCT_PREFIX || rc == SBCT_DISABLED)
			&& sbct_xavp_fill(&res) < 0)
		rc = SBCT_ERROR;
	sbct_reader_leave();
	sbct_stats_lookup(rc);

	switch(rc) {
		case SBCT_INVALID:
			LM_INFO("invalid DID [%s] (len %d) callid [%s]\n",
					sbct_log_str(did->s, did->len, 0), did->len,
					sbct_log_callid(msg));
			break;
		case SBCT_ERROR:
			if(idx == NULL)
				LM_ERR("no DID index loaded, callid [%s]\n",
						sbct_log_callid(msg));
			break;
		default:
			LM_DBG("DID [%s] -> %d (%s) tenant %u\n", res.did, rc,
					sbct_code_str(rc), res.tenant_id);
	}
	return rc;
}
