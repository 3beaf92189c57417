/*
 * sbc_tenant - lookup for the cfg / KEMI: result into an xavp
 */

#ifndef _SBCT_LOOKUP_H_
#define _SBCT_LOOKUP_H_

#include "../../core/parser/msg_parser.h"
#include "../../core/str.h"

extern str sbct_xavp_name;

/* looks did up, replaces the result xavp; returns the interface codes:
 * 1 exact, 2 prefix, -1 not found, -2 tenant disabled, -3 invalid DID,
 * -5 internal error (no index loaded) */
int sbct_lookup_msg(sip_msg_t *msg, str *did);

/* printable, bounded copy of untrusted text for logs (per process buffer
 * i of 2; non-printable bytes, quotes and backslashes as \xHH) */
const char *sbct_log_str(const char *s, int len, int i);

#endif
