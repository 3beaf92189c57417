/*
 * sbc_tenant - lookup for the cfg / KEMI: result into an xavp
 */

#ifndef _SBCT_LOOKUP_H_
#define _SBCT_LOOKUP_H_

#include "../../core/parser/msg_parser.h"
#include <stdint.h>

#include "../../core/str.h"

extern str sbct_xavp_name;

/* looks did up, replaces the result xavp; returns the interface codes:
 * 1 exact, 2 prefix, -1 not found, -2 tenant disabled, -3 invalid DID,
 * -5 internal error (no index loaded) */
int sbct_lookup_msg(sip_msg_t *msg, str *did);

/* tenant_id of the last lookup's xavp (set by codes 1, 2 and -2):
 * 0, or -1 when there is none */
int sbct_xavp_tenant_id(uint32_t *id);

/* printable, bounded copy of untrusted text for logs (per process buffer
 * i of 2; non-printable bytes, quotes and backslashes as \xHH) */
const char *sbct_log_str(const char *s, int len, int i);

/* the Call-ID of msg for a log line (through sbct_log_str() buffer 1) */
const char *sbct_log_callid(sip_msg_t *msg);

#endif
