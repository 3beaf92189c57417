/*
 * sbc_tenant - RPC commands
 */

#ifndef _SBCT_RPC_H_
#define _SBCT_RPC_H_

#include "../../core/rpc.h"

extern rpc_export_t sbct_rpc_cmds[];

#endif
