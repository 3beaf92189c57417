/*
 * rating_agent module - the outbox sender process
 *
 * This file is part of Kamailio, a free SIP server.
 *
 * Kamailio is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version
 */

#ifndef _RA_SENDER_H_
#define _RA_SENDER_H_

/* main loop of the sender process; returns only if it cannot start */
void ra_sender_main(void);

#endif
