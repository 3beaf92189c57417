#!/usr/bin/env bash
# Starts, stops and reports the whole SBC stack on loopback: a throwaway MariaDB, Redis, rtpengine
# (userspace), the rating agent test double (tests/rating_double) and Kamailio with our modules. `make run` and the test suite both use it; they differ only
# in the environment below, so both can run side by side.
#
#   scripts/stack.sh start|stop|status|restart-kamailio
#   scripts/stack.sh start-services|start-kamailio|stop-kamailio
#       the shared services alone (MariaDB, Redis, rtpengine, agent double) and one Kamailio alone:
#       scripts/cluster.sh runs several Kamailio nodes (each with its own SBC_RUNDIR) on one set of
#       services this way.
#
# Environment (defaults are the `make run` stack):
#   SBC_RUNDIR        run dir: pids, logs, sockets, MariaDB datadir     (<repo>/.run)
#   SBC_PRIVATE_IP    Kamailio private (carrier) side                   (127.0.1.1)
#   SBC_PUBLIC_IP     Kamailio public (AI gateway) side                 (127.0.2.1)
#   SBC_SIP_PORT      SIP port on both sides                            (5060)
#   SBC_TLS_PORT      SIP over TLS on the public side                   (SIP port + 1)
#   SBC_DB_PORT       MariaDB TCP port on 127.0.0.1                     (13306)
#   SBC_REDIS_PORT    Redis port on 127.0.0.1                           (16379)
#   SBC_RTPE_PORT     rtpengine ng port on 127.0.0.1 (CLI on +1)        (2223)
#   SBC_AGENT_PORT    rating agent double on 127.0.0.1 (AGENT_URL)     (18000)
#   SBC_RTP_MIN/MAX   rtpengine media port range                        (30000/34999)
#   SBC_RTPE_PRIVATE_IP / SBC_RTPE_PUBLIC_IP
#                     rtpengine's internal / external interface addresses (SBC_PRIVATE_IP / SBC_PUBLIC_IP)
#   SBC_DATA_SQL      SQL files loaded after the schema; @SIP_PORT@ in them is replaced by the SIP port
#                     (sql/demo_data.sql)
#   SBC_MODULES_DIR   where our built modules are                       (<repo>/build/modules)
#   SBC_SHM_MB        Kamailio shared memory in MB                      (512)
#   SBC_MEM_MANAGER   Kamailio memory manager, shm and pkg: tlsf, qm or fm (tlsf)
#   SBC_KAMAILIO_ARGS extra kamailio arguments, e.g. "-A WITH_FOO" (split at spaces)
#   SBC_KAMAILIO_ARGV extra kamailio arguments, one per line (kept whole: values with spaces)
#   SBC_CFG           Kamailio cfg to start (<repo>/etc/kamailio.cfg); make bench starts a cfg that
#                     includes it and sets one more modparam
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

RUNDIR=${SBC_RUNDIR:-$top/.run}
PRIVATE_IP=${SBC_PRIVATE_IP:-127.0.1.1}
PUBLIC_IP=${SBC_PUBLIC_IP:-127.0.2.1}
SIP_PORT=${SBC_SIP_PORT:-5060}
TLS_PORT=${SBC_TLS_PORT:-$((SIP_PORT + 1))}
DB_PORT=${SBC_DB_PORT:-13306}
REDIS_PORT=${SBC_REDIS_PORT:-16379}
RTPE_PORT=${SBC_RTPE_PORT:-2223}
AGENT_PORT=${SBC_AGENT_PORT:-18000}
RTP_MIN=${SBC_RTP_MIN:-30000}
RTP_MAX=${SBC_RTP_MAX:-34999}
RTPE_PRIVATE_IP=${SBC_RTPE_PRIVATE_IP:-$PRIVATE_IP}
RTPE_PUBLIC_IP=${SBC_RTPE_PUBLIC_IP:-$PUBLIC_IP}
DATA_SQL=${SBC_DATA_SQL-$top/sql/demo_data.sql}
MODULES_DIR=${SBC_MODULES_DIR:-$top/build/modules}
SHM_MB=${SBC_SHM_MB:-512}
MEM_MANAGER=${SBC_MEM_MANAGER:-tlsf}
CFG=${SBC_CFG:-$top/etc/kamailio.cfg}
DB_SOCK=$RUNDIR/mysql.sock
CTL=unix:$RUNDIR/kamailio_ctl
DBURL="mysql://kamailio:kamailiorw@127.0.0.1:$DB_PORT/kamailio"

log() { echo "stack: $*"; }
die() { echo "stack: ERROR: $*" >&2; exit 1; }

pid_alive() { # name
	local f="$RUNDIR/$1.pid"
	[ -s "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null
}

# True when nothing listens on the port yet (proto: tcp or udp).
port_free() { # proto port
	! ss -Hln"${1:0:1}" "sport = :$2" 2>/dev/null | grep -q .
}

wait_for() { # seconds description command...
	local secs=$1 what=$2 i
	shift 2
	for ((i = 0; i < secs * 10; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	die "$what did not come up within ${secs}s"
}

sql() { mariadb --no-defaults -S "$DB_SOCK" -uroot "$@"; }

start_mariadb() {
	pid_alive mariadb && return 0
	port_free tcp "$DB_PORT" || die "TCP port $DB_PORT (MariaDB) is in use by another process"
	if [ ! -d "$RUNDIR/mysql/mysql" ]; then
		log "initialising MariaDB datadir $RUNDIR/mysql"
		mariadb-install-db --no-defaults --user="$(id -un)" --datadir="$RUNDIR/mysql" \
			--auth-root-authentication-method=normal --skip-test-db >"$RUNDIR/mariadb-init.log" 2>&1 ||
			die "mariadb-install-db failed: $(tail -5 "$RUNDIR/mariadb-init.log")"
	fi
	mariadbd --no-defaults --user="$(id -un)" --datadir="$RUNDIR/mysql" --socket="$DB_SOCK" \
		--port="$DB_PORT" --bind-address=127.0.0.1 --skip-name-resolve \
		--pid-file="$RUNDIR/mariadbd.pid" --log-error="$RUNDIR/mariadb.log" >>"$RUNDIR/mariadb.log" 2>&1 &
	echo $! >"$RUNDIR/mariadb.pid"
	wait_for 30 MariaDB mariadb-admin --no-defaults -S "$DB_SOCK" -uroot ping
	sql <<-SQL
		CREATE DATABASE IF NOT EXISTS kamailio;
		CREATE USER IF NOT EXISTS 'kamailio'@'127.0.0.1' IDENTIFIED BY 'kamailiorw';
		CREATE USER IF NOT EXISTS 'kamailio'@'localhost' IDENTIFIED BY 'kamailiorw';
		GRANT ALL ON kamailio.* TO 'kamailio'@'127.0.0.1';
		GRANT ALL ON kamailio.* TO 'kamailio'@'localhost';
	SQL
	log "loading sql/kamailio_schema.sql"
	sql kamailio <"$top/sql/kamailio_schema.sql" || die "schema load failed"
	local f
	for f in $DATA_SQL; do
		log "loading $f"
		sed "s/@SIP_PORT@/$SIP_PORT/g" "$f" | sql kamailio || die "loading $f failed"
	done
}

start_redis() {
	pid_alive redis && return 0
	port_free tcp "$REDIS_PORT" || die "TCP port $REDIS_PORT (Redis) is in use by another process"
	mkdir -p "$RUNDIR/redis"
	# AOF on: the rating outbox in Redis must survive a restart of the stack.
	redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$RUNDIR/redis" --save '' \
		--appendonly yes --daemonize no --logfile "$RUNDIR/redis.log" >>"$RUNDIR/redis.log" 2>&1 &
	echo $! >"$RUNDIR/redis.pid"
	wait_for 10 Redis redis-cli -p "$REDIS_PORT" ping
}

start_rtpengine() {
	pid_alive rtpengine && return 0
	port_free udp "$RTPE_PORT" || die "UDP port $RTPE_PORT (rtpengine ng) is in use by another process"
	# --timeout: a call without media both ways for that long is dropped and reported to Kamailio
	# (XML-RPC dlg.terminate_dlg at /RPC2 of its HTTP socket, 127.0.0.1:SIP port), which hangs it up.
	rtpengine --config-file=none --table=-1 --foreground --log-stderr --log-level=5 \
		--interface="internal/$RTPE_PRIVATE_IP" --interface="external/$RTPE_PUBLIC_IP" \
		--listen-ng="127.0.0.1:$RTPE_PORT" --listen-cli="127.0.0.1:$((RTPE_PORT + 1))" \
		--port-min="$RTP_MIN" --port-max="$RTP_MAX" --delete-delay=0 --timeout=60 \
		--b2b-url="http://127.0.0.1:$SIP_PORT/RPC2" --xmlrpc-format=2 \
		>"$RUNDIR/rtpengine.log" 2>&1 &
	echo $! >"$RUNDIR/rtpengine.pid"
	wait_for 10 rtpengine rtpengine-ctl -ip "127.0.0.1:$((RTPE_PORT + 1))" list numsessions
}

# The rating agent test double: with no rules it authorizes every call (default_units 3600 s) and
# accepts every begin/end; tests script it through http://127.0.0.1:$AGENT_PORT/_control.
start_agent() {
	pid_alive agent && return 0
	port_free tcp "$AGENT_PORT" || die "TCP port $AGENT_PORT (rating agent double) is in use by another process"
	python3 "$top/tests/rating_double/rating_double.py" --listen "127.0.0.1:$AGENT_PORT" \
		--log "$RUNDIR/agent-access.log" >"$RUNDIR/agent.log" 2>&1 &
	echo $! >"$RUNDIR/agent.pid"
	wait_for 10 "rating agent double" curl -sf "http://127.0.0.1:$AGENT_PORT/status"
}

# The kamailio command line in the array KARGS.
kamailio_args() {
	local a
	KARGS=(-f "$CFG" -Y "$RUNDIR" -P "$RUNDIR/kamailio-main.pid" -DD -E -m "$SHM_MB" -M 16 -x "$MEM_MANAGER"
		-A "PRIVATE_IP=$PRIVATE_IP" -A "PUBLIC_IP=$PUBLIC_IP" -A "SIP_PORT=$SIP_PORT"
		-A "DBURL=\"$DBURL\"" -A "REDIS_URL=\"redis://127.0.0.1:$REDIS_PORT/0\""
		-A "RTPENGINE_SOCK=\"udp:127.0.0.1:$RTPE_PORT\""
		-A "AGENT_URL=\"http://127.0.0.1:$AGENT_PORT\""
		-A "MODULES_DIR=\"$MODULES_DIR\""
		-A "CTL_SOCKET=\"$CTL\""
		-A WITH_TLS -A "TLS_PORT=$TLS_PORT" -A "TLS_CERT=\"$RUNDIR/tls/sbc-cert.pem\""
		-A "TLS_KEY=\"$RUNDIR/tls/sbc-key.pem\"")
	# shellcheck disable=SC2206
	KARGS+=(${SBC_KAMAILIO_ARGS:-})
	while IFS= read -r a; do
		[ -z "$a" ] || KARGS+=("$a")
	done <<<"${SBC_KAMAILIO_ARGV:-}"
}

start_kamailio() {
	pid_alive kamailio && return 0
	local ip i
	for ip in "$PRIVATE_IP" "$PUBLIC_IP"; do
		ss -Hlnu "sport = :$SIP_PORT" | grep -qE "(^|[^0-9])$ip:$SIP_PORT" &&
			die "UDP $ip:$SIP_PORT is in use by another process"
	done
	[ -f "$MODULES_DIR/sbc_tenant.so" ] || die "$MODULES_DIR/sbc_tenant.so missing (run make modules)"
	case " ${SBC_KAMAILIO_ARGS:-} " in
	*" NO_RATING "*) ;;
	*) [ -f "$MODULES_DIR/rating_agent.so" ] || die "$MODULES_DIR/rating_agent.so missing (run make modules)" ;;
	esac
	"$top/scripts/gen-cert.sh" "$RUNDIR/tls" "$PUBLIC_IP" >"$RUNDIR/gen-cert.log" 2>&1 ||
		die "cannot create the TLS certificate in $RUNDIR/tls: $(tail -3 "$RUNDIR/gen-cert.log")"
	kamailio_args
	kamailio -c "${KARGS[@]}" >"$RUNDIR/kamailio-check.log" 2>&1 ||
		die "kamailio -c rejects the config: $(grep -E 'ERROR|CRITICAL' "$RUNDIR/kamailio-check.log" | tail -5)"
	kamailio "${KARGS[@]}" >>"$RUNDIR/kamailio.log" 2>&1 &
	echo $! >"$RUNDIR/kamailio.pid"
	for ((i = 0; i < 200; i++)); do
		pid_alive kamailio || die "Kamailio exited: $(tail -20 "$RUNDIR/kamailio.log")"
		kamcmd -s "$CTL" core.uptime >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	die "Kamailio does not answer on $CTL after 20s: $(tail -20 "$RUNDIR/kamailio.log")"
}

stop_one() { # name
	local f="$RUNDIR/$1.pid" pid i
	[ -s "$f" ] || return 0
	pid=$(cat "$f")
	if kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null || true
		for ((i = 0; i < 100; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$pid" 2>/dev/null && { log "$1 did not stop, killing"; kill -9 "$pid" 2>/dev/null || true; }
		log "stopped $1"
	fi
	rm -f "$f"
}

status() {
	local n rc=0
	for n in mariadb redis rtpengine agent kamailio; do
		if pid_alive "$n"; then printf '  %-10s running (pid %s)\n' "$n" "$(cat "$RUNDIR/$n.pid")"
		else printf '  %-10s stopped\n' "$n"; rc=1; fi
	done
	return $rc
}

summary() {
	cat <<-EOF
		The SBC is running (run dir $RUNDIR):
		  SIP private (carriers)     udp+tcp $PRIVATE_IP:$SIP_PORT
		  SIP public (AI gateways)   udp+tcp $PUBLIC_IP:$SIP_PORT, tls $PUBLIC_IP:$TLS_PORT (self-signed cert $RUNDIR/tls/sbc-cert.pem)
		  JSON-RPC / metrics         http://127.0.0.1:$SIP_PORT/RPC  http://127.0.0.1:$SIP_PORT/metrics
		  rtpengine                  ng 127.0.0.1:$RTPE_PORT, cli 127.0.0.1:$((RTPE_PORT + 1)), media $RTPE_PRIVATE_IP / $RTPE_PUBLIC_IP ports $RTP_MIN-$RTP_MAX
		  MariaDB                    127.0.0.1:$DB_PORT (db kamailio, user kamailio), socket $DB_SOCK
		  Redis                      127.0.0.1:$REDIS_PORT
		  rating agent (test double) http://127.0.0.1:$AGENT_PORT (rules: POST /_control, seen: GET /_requests)
		  kamcmd                     kamcmd -s $CTL <command>
		  logs                       $RUNDIR/{kamailio,rtpengine,mariadb,redis,agent}.log
	EOF
	if pid_alive mariadb; then
		echo "  DIDs routed:"
		sql -N kamailio -e "SELECT CONCAT('    ', RPAD(d.did, 16), ' -> tenant ', t.name, ' (gateway group ',
			COALESCE(d.gateway_group, t.gateway_group), IF(t.enabled, '', ', tenant disabled'), ')')
			FROM did_routing d JOIN tenants t ON t.id = d.tenant_id WHERE d.enabled ORDER BY d.did" 2>/dev/null || true
	fi
	echo "Stop it with: make stop"
}

case "${1:-}" in
start)
	mkdir -p "$RUNDIR"
	if status >/dev/null; then
		log "already running"
		summary
		exit 0
	fi
	start_mariadb
	start_redis
	start_rtpengine
	start_agent
	start_kamailio
	summary
	;;
stop)
	for n in kamailio agent rtpengine redis mariadb; do stop_one "$n"; done
	;;
restart-kamailio)
	stop_one kamailio
	start_kamailio
	;;
start-services)
	mkdir -p "$RUNDIR"
	start_mariadb
	start_redis
	start_rtpengine
	start_agent
	;;
start-kamailio)
	mkdir -p "$RUNDIR"
	start_kamailio
	;;
stop-kamailio)
	stop_one kamailio
	;;
status)
	status
	;;
*)
	echo "usage: $0 start|stop|status|restart-kamailio|start-services|start-kamailio|stop-kamailio" >&2
	exit 2
	;;
esac
