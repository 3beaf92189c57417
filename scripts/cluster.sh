#!/usr/bin/env bash
# Several SBC nodes as one cluster on loopback: one set of shared services (scripts/stack.sh
# start-services: MariaDB, Redis, rtpengine, the rating agent double) and one Kamailio per node
# (scripts/stack.sh start-kamailio) running the same etc/kamailio.cfg with WITH_CLUSTER and the node's
# own addresses. What the nodes share and replicate: README.md "Cluster".
#
#   scripts/cluster.sh start|stop|status
#   scripts/cluster.sh start-node <name>|stop-node <name>     one node only (the services stay)
#   scripts/cluster.sh rpc <command> [args]                   kamcmd <command> on every node
#
# Environment (defaults: the two-node cluster of tests/cluster, clear of the other stacks' ports):
#   SBC_CLUSTER_RUNDIR  services' run dir; node <name> runs in <dir>/node-<name>   (/tmp/sbc-cluster)
#   SBC_CLUSTER_NODES   nodes as name:private_ip:public_ip, space-separated; the order gives NODE_INDEX
#                       ("a:127.0.11.1:127.0.12.1 b:127.0.11.2:127.0.12.2")
#   SBC_SIP_PORT        SIP port of every node                                     (5085)
#   SBC_DMQ_PORT        DMQ port of every node, on its private address             (5087)
#   SBC_DB_PORT 13336, SBC_REDIS_PORT 16409, SBC_RTPE_PORT 2230, SBC_RTP_MIN/MAX 48000/49999,
#   SBC_AGENT_PORT 18085, SBC_RTPE_PRIVATE_IP 127.0.11.5, SBC_RTPE_PUBLIC_IP 127.0.12.5 (rtpengine's
#   addresses: media does not depend on a node), SBC_DATA_SQL (tests/cluster/fixtures.sql)
#   SBC_CLUSTER_ARGV    extra kamailio arguments for every node, one per line
# Each node: HTTP (JSON-RPC, metrics) on <private_ip>:<SIP port + 10>, kamcmd on
# unix:<dir>/node-<name>/kamailio_ctl, log <dir>/node-<name>/kamailio.log.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

RUNDIR=${SBC_CLUSTER_RUNDIR:-/tmp/sbc-cluster}
NODES=${SBC_CLUSTER_NODES:-"a:127.0.11.1:127.0.12.1 b:127.0.11.2:127.0.12.2"}
SIP_PORT=${SBC_SIP_PORT:-5085}
DMQ_PORT=${SBC_DMQ_PORT:-5087}
ADDR_GRP_CLUSTER=3

export SBC_SIP_PORT=$SIP_PORT
export SBC_DB_PORT=${SBC_DB_PORT:-13336}
export SBC_REDIS_PORT=${SBC_REDIS_PORT:-16409}
export SBC_RTPE_PORT=${SBC_RTPE_PORT:-2230}
export SBC_RTP_MIN=${SBC_RTP_MIN:-48000}
export SBC_RTP_MAX=${SBC_RTP_MAX:-49999}
export SBC_AGENT_PORT=${SBC_AGENT_PORT:-18085}
export SBC_RTPE_PRIVATE_IP=${SBC_RTPE_PRIVATE_IP:-127.0.11.5}
export SBC_RTPE_PUBLIC_IP=${SBC_RTPE_PUBLIC_IP:-127.0.12.5}
export SBC_DATA_SQL=${SBC_DATA_SQL-$top/tests/cluster/fixtures.sql}

log() { echo "cluster: $*"; }
die() { echo "cluster: ERROR: $*" >&2; exit 1; }

stack() { # action [env assignments...]
	local action=$1
	shift
	env "$@" "$top/scripts/stack.sh" "$action"
}

node_field() { # name field(1 name, 2 private, 3 public, 4 index)
	local n i=0 name priv pub
	for n in $NODES; do
		i=$((i + 1))
		IFS=: read -r name priv pub <<<"$n"
		if [ "$name" = "$1" ]; then
			case $2 in 1) echo "$name" ;; 2) echo "$priv" ;; 3) echo "$pub" ;; 4) echo "$i" ;; esac
			return 0
		fi
	done
	die "no node '$1' in SBC_CLUSTER_NODES ($NODES)"
}

node_names() {
	local n
	for n in $NODES; do echo "${n%%:*}"; done
}

# Kamailio arguments of one node, one per line: its identity, its DMQ socket, the other nodes as DMQ
# notification peers (the first two) and as aliases (their SIP and TLS addresses).
node_argv() { # name
	local name=$1 priv idx other opriv opub aliases="" notify=()
	priv=$(node_field "$name" 2)
	idx=$(node_field "$name" 4)
	for other in $(node_names); do
		[ "$other" = "$name" ] && continue
		opriv=$(node_field "$other" 2)
		opub=$(node_field "$other" 3)
		notify+=("sip:$opriv:$DMQ_PORT")
		aliases="$aliases $opriv:$SIP_PORT $opub:$SIP_PORT $opub:$((SIP_PORT + 1))"
	done
	printf '%s\n' -A WITH_CLUSTER -A "NODE_ID=\"$name\"" -A "NODE_INDEX=$idx" \
		-A "DMQ_IP=$priv" -A "DMQ_PORT=$DMQ_PORT" -A "DMQ_ADDRESS=\"sip:$priv:$DMQ_PORT\"" \
		-A "CLUSTER_REDIS_URL=\"redis://127.0.0.1:$SBC_REDIS_PORT/0\"" \
		-A "HTTP_IP=$priv" -A "HTTP_PORT=$((SIP_PORT + 10))"
	[ "${#notify[@]}" -ge 1 ] && printf '%s\n' -A "DMQ_NOTIFY=\"${notify[0]}\""
	[ "${#notify[@]}" -ge 2 ] && printf '%s\n' -A "DMQ_NOTIFY2=\"${notify[1]}\""
	[ -n "$aliases" ] && printf '%s\n' -A "CLUSTER_ALIASES=${aliases# }"
	[ -z "${SBC_CLUSTER_ARGV:-}" ] || printf '%s\n' "$SBC_CLUSTER_ARGV"
}

node_stack() { # action name
	stack "$1" SBC_RUNDIR="$RUNDIR/node-$2" SBC_PRIVATE_IP="$(node_field "$2" 2)" \
		SBC_PUBLIC_IP="$(node_field "$2" 3)" SBC_KAMAILIO_ARGV="$(node_argv "$2")"
}

# The nodes' DMQ addresses in the `address` group the cfg accepts KDMQ from (ADDR_GRP_CLUSTER).
cluster_acl() {
	local n values=""
	for n in $(node_names); do
		values="$values,($ADDR_GRP_CLUSTER, '$(node_field "$n" 2)', 32, 0, 'cluster node $n')"
	done
	mariadb --no-defaults -S "$RUNDIR/mysql.sock" -uroot kamailio -e \
		"DELETE FROM address WHERE grp = $ADDR_GRP_CLUSTER; INSERT INTO address (grp, ip_addr, mask, port, tag) VALUES ${values#,};" ||
		die "cannot write the cluster rows of table address"
}

# Until every running node lists every node as active in DMQ (a node that joins is "pending" for
# the others until their next ping, dmq ping_interval 15 s): dialogs are replicated to active nodes only.
wait_joined() {
	local n want i ok
	want=$(node_names | wc -l)
	for ((i = 0; i < 300; i++)); do
		ok=1
		for n in $(node_names); do
			[ -S "$RUNDIR/node-$n/kamailio_ctl" ] || continue
			[ "$(kamcmd -s "unix:$RUNDIR/node-$n/kamailio_ctl" dmq.list_nodes 2>/dev/null |
				grep -c 'status: active')" -eq "$want" ] || ok=0
		done
		[ $ok -eq 1 ] && return 0
		sleep 0.1
	done
	die "the nodes did not all see each other in DMQ within 30 s (kamcmd dmq.list_nodes)"
}

ctl_list() {
	local n
	for n in $(node_names); do echo "unix:$RUNDIR/node-$n/kamailio_ctl"; done
}

case "${1:-}" in
start)
	mkdir -p "$RUNDIR"
	stack start-services SBC_RUNDIR="$RUNDIR"
	cluster_acl
	for n in $(node_names); do
		log "starting node $n"
		node_stack start-kamailio "$n"
	done
	wait_joined
	log "running: $(node_names | tr '\n' ' ')(SIP port $SIP_PORT, DMQ port $DMQ_PORT, run dir $RUNDIR)"
	log "every node: scripts/cluster.sh rpc <command>; stop: scripts/cluster.sh stop"
	;;
start-node)
	node_stack start-kamailio "${2:?node name}"
	wait_joined
	;;
stop-node)
	node_stack stop-kamailio "${2:?node name}"
	;;
stop)
	for n in $(node_names); do node_stack stop-kamailio "$n"; done
	stack stop SBC_RUNDIR="$RUNDIR"
	;;
status)
	rc=0
	for n in $(node_names) services; do
		dir=$RUNDIR/node-$n
		procs=kamailio
		[ "$n" = services ] && { dir=$RUNDIR; procs="mariadb redis rtpengine agent"; }
		for p in $procs; do
			if [ -s "$dir/$p.pid" ] && kill -0 "$(cat "$dir/$p.pid")" 2>/dev/null; then
				printf '  %-9s %-10s running (pid %s)\n' "$n" "$p" "$(cat "$dir/$p.pid")"
			else
				printf '  %-9s %-10s stopped\n' "$n" "$p"
				rc=1
			fi
		done
	done
	exit $rc
	;;
rpc)
	shift
	SBC_CLUSTER_CTL="$(ctl_list | tr '\n' ' ')" exec "$top/scripts/cluster-rpc.sh" "$@"
	;;
*)
	echo "usage: $0 start|stop|status|start-node <name>|stop-node <name>|rpc <command> [args]" >&2
	exit 2
	;;
esac
