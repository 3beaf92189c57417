/*
 * sbc_tenant - differences between the Kamailio versions we build against
 * (5.6 Debian packages, upstream 6.1). VERSIONVAL is set by Makefile.defs.
 */

#ifndef _SBCT_COMPAT_H_
#define _SBCT_COMPAT_H_

#include "../../core/xavp.h"

/* 5.7 dropped SR_XTYPE_INT: numbers are SR_XTYPE_LONG (v.l), which $xavp
 * returns as an integer from 5.7 on but as a string on 5.6 */
#if defined(VERSIONVAL) && VERSIONVAL < 5007000
#define SBCT_XVAL_SET_INT(xv, n)   \
	do {                           \
		(xv).type = SR_XTYPE_INT;  \
		(xv).v.i = (int)(n);       \
	} while(0)
#else
#define SBCT_XVAL_SET_INT(xv, n)   \
	do {                           \
		(xv).type = SR_XTYPE_LONG; \
		(xv).v.l = (long)(n);      \
	} while(0)
#endif

/* integer value of an xavp, whichever integer type it has; 0 or -1 */
static inline int sbct_xval_get_ll(const sr_xval_t *xv, long long *out)
{
	switch(xv->type) {
#if defined(VERSIONVAL) && VERSIONVAL < 5007000
		case SR_XTYPE_INT:
			*out = xv->v.i;
			return 0;
#endif
		case SR_XTYPE_LONG:
			*out = xv->v.l;
			return 0;
		case SR_XTYPE_LLONG:
			*out = xv->v.ll;
			return 0;
		default:
			return -1;
	}
}

#endif
