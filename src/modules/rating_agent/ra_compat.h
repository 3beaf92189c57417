/*
 * rating_agent module - differences between the Kamailio versions it
 * builds against (5.6 .. 6.1)
 *
 * This file is part of Kamailio, a free SIP server.
 *
 * Kamailio is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version
 */

#ifndef _RA_COMPAT_H_
#define _RA_COMPAT_H_

#include "../../core/xavp.h"

/* numbers in xavps: int (v.i, SR_XTYPE_INT) up to 5.6, long (v.l,
 * SR_XTYPE_LONG) since 5.7; VERSIONVAL comes from Makefile.defs */
#if defined(VERSIONVAL) && VERSIONVAL >= 5007000
#define RA_XTYPE_NUM SR_XTYPE_LONG
#define RA_XVAL_NUM(xv) ((xv).v.l)
#else
#define RA_XTYPE_NUM SR_XTYPE_INT
#define RA_XVAL_NUM(xv) ((xv).v.i)
#endif

#endif
