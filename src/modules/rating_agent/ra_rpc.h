/*
 * rating_agent module - RPC commands
 *
 * This file is part of Kamailio, a free SIP server.
 *
 * Kamailio is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version
 */

#ifndef _RA_RPC_H_
#define _RA_RPC_H_

int ra_rpc_init(void); /* mod_init */

#endif
