/*
 * rating_agent module - asynchronous authorization
 *
 * The SIP worker suspends the INVITE transaction (tm t_suspend) and hands a
 * job (shm) to one of the module's HTTP worker processes through that
 * worker's pipe; the worker posts /v1/authorization on its
 * curl multi handle and, with the answer, resumes the transaction
 * (t_continue) in the cfg route (or KEMI function) named by the caller.
 * The outcome is written into the xavp (modparam xavp, default "ra") of
 * the resumed transaction by a pre-script callback, so it is there when
 * the route starts.
 *
 * This file is part of Kamailio, a free SIP server.
 *
 * Kamailio is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version
 */

#ifndef _RA_ASYNC_H_
#define _RA_ASYNC_H_

#include "../../core/parser/msg_parser.h"
#include "ra_decide.h"

int ra_async_init(void); /* mod_init: job sockets, pre-script callback */
void ra_async_close_read_ends(void);
void ra_async_worker_main(int idx);

/* Suspend and send. rname: the route (or KEMI function) to resume in;
 * ridx: its index in main_rt (native cfg) or -1 (KEMI).
 * Returns 0 when suspended (the script must stop), -1 when nothing was
 * suspended: the outcome (fail policy) is already in the xavp and the
 * caller handles it right away, 1 for a retransmission (absorbed). */
int ra_async_authorize(sip_msg_t *msg, str *rname, int ridx);

/* no authorization possible for msg (why): fail policy outcome into the
 * xavp, logged with the Call-ID, counted; returns -1 */
int ra_async_fail(sip_msg_t *msg, const char *why);

/* write an outcome into the current xavp list */
int ra_xavp_set(const ra_outcome_t *o, long long latency_ms);

/* reply with the code/phrase of the xavp; 1 replied, -1 nothing to reply
 * (authorized) or error */
int ra_reply(sip_msg_t *msg);

#endif
