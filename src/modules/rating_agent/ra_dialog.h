/*
 * rating_agent module - begin/end bound to the dialog
 *
 * A rated call is bound to its dialog (dialog module API): begin is queued
 * when the dialog is answered (DLGCB_CONFIRMED_NA, the 200 OK, or
 * DLGCB_CONFIRMED if that came first), end when it terminates (BYE either
 * side, DLGCB_TERMINATED) or expires (DLGCB_EXPIRED, also at the
 * max_available_units call limit), each with the UTC time of the event.
 * Failed calls (never answered) send nothing. The record fields and the
 * state are kept in dialog variables as well, so that dialogs restored
 * from the dialog database after a restart are bound again (DLGCB_LOADED).
 * ra_node names the running node that bound the call: in a cluster the
 * dialog is replicated to the other nodes, and a node that ends another
 * node's call writes its end record (ra_dialog_end()).
 *
 * This file is part of Kamailio, a free SIP server.
 *
 * Kamailio is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version
 */

#ifndef _RA_DIALOG_H_
#define _RA_DIALOG_H_

#include "../../core/parser/msg_parser.h"

int ra_dialog_init(void); /* mod_init, after the dialog API is loaded */

/* Bind the current dialog of msg: begin/end records and, when units > 0,
 * the dialog timeout. quiet: no error when the dialog module is not
 * loaded (automatic binding); a missing dialog is always warned about.
 * Returns 1 bound now, 2 already bound, -1 no dialog or error. */
int ra_dialog_bind(sip_msg_t *msg, long long units, int quiet);

/* event_route[dialog:end] in a cluster (dialogs replicated between the
 * nodes): the dialog that ended here was bound by another node (dialog
 * variable ra_node): its end record is written here, from the call's
 * record template (dialog variable ra_rec, replicated with the dialog),
 * once per call in the cluster (end_guard_ttl). 1: this node's own call
 * (its dialog callbacks write the end), 2: end written for another node's
 * call, 3: another node's call whose end that node wrote already, -1: no
 * rated call, or it could not be written (logged). */
int ra_dialog_end(sip_msg_t *msg);

#endif
