#!/usr/bin/env bash
# Runs one RPC command on every SBC node of a cluster, e.g. after editing dispatcher or address rows
# (each node keeps its own copy of those tables; tenants and DIDs follow by themselves):
#
#   SBC_CLUSTER_CTL="tcp:10.0.0.11:2049 tcp:10.0.0.12:2049" scripts/cluster-rpc.sh dispatcher.reload
#
# SBC_CLUSTER_CTL: the nodes' kamcmd addresses (kamcmd -s, the cfg's CTL_SOCKET of each node, e.g.
# CTL_SOCKET "tcp:10.0.0.11:2049" on a management network), space-separated. Prints each node's answer;
# the exit status is non-zero when any node failed. scripts/cluster.sh rpc does this for its nodes.
set -uo pipefail
[ $# -ge 1 ] || { echo "usage: SBC_CLUSTER_CTL=\"<ctl> ...\" $0 <command> [args]" >&2; exit 2; }
[ -n "${SBC_CLUSTER_CTL:-}" ] || { echo "cluster-rpc: SBC_CLUSTER_CTL is empty" >&2; exit 2; }
failed=0
for ctl in $SBC_CLUSTER_CTL; do
	if out=$(kamcmd -s "$ctl" "$@" 2>&1); then
		echo "$ctl: ok${out:+ $out}"
	else
		echo "$ctl: FAILED $out"
		failed=$((failed + 1))
	fi
done
[ "$failed" -eq 0 ]
