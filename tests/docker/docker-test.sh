#!/usr/bin/env bash
# make docker-test: docker/compose.yaml for real on this machine, on loopback addresses.
#
#   1. installs Debian's docker.io, docker-compose (1.29) and debootstrap when missing;
#   2. uses a private Docker engine: its own socket, data root and exec root, no bridge, no iptables;
#      started here when it is not running, and stopped again at the end (never any other engine);
#   3. makes debian:bookworm-slim available (tests/docker/base-image.sh: pull, else debootstrap+import);
#   4. builds the four images (docker-compose build: `network: host` for apt);
#   5. brings the stack up with test settings (SBC 127.0.6.1 / 127.0.7.1 port 5070, MariaDB 13316,
#      Redis 16389, rtpengine ng 2226, RTP 42000-42999) and the rating agent double on 127.0.0.1:18060,
#      and waits for every healthcheck;
#   6. runs tests/docker/stack (pytest): admin SQL of docker/README.md, a SIPp call with RTP carrier ->
#      DID -> gateway, MariaDB and Redis restarts without data loss, bad settings;
#   7. tears everything down (containers, volumes, the double, the engine if started here).
#
# Environment: SBC_DOCKER_COLD=1 deletes the engine's data root and the debootstrap cache first (no
# images, no base image: a cold run; only when the engine is not running);
# SBC_DOCKER_KEEP=1 leaves the stack and the engine running (tear down with SBC_DOCKER_KEEP= and
# `tests/docker/docker-test.sh down`). Work dir with logs: /tmp/sbc-docker-test. The images stay in
# /var/lib/sbc-docker for the next run (a warm run rebuilds only what changed); delete that directory
# and /var/lib/sbc-docker-base to reclaim the space.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1

export DOCKER_HOST=unix:///run/sbc-docker.sock
data_root=/var/lib/sbc-docker
exec_root=/run/sbc-docker
base_cache=${SBC_DOCKER_BASE_CACHE:-/var/lib/sbc-docker-base}
work=/tmp/sbc-docker-test
project=sbc-docker-test
agent_port=18060
export SBC_RUNDIR=$work        # where tests/sipp's harness writes the SIPp logs

t0=$(date +%s)
log() { printf 'docker-test [%4ds]: %s\n' "$(($(date +%s) - t0))" "$*"; }
die() { log "ERROR: $*"; exit 1; }

compose() {
	docker-compose -p "$project" -f "$top/docker/compose.yaml" --env-file "$work/test.env" "$@"
}

install_packages() {
	local p missing=()
	for p in docker.io docker-compose debootstrap sip-tester python3-pytest curl; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	[ "${#missing[@]}" -eq 0 ] && return 0
	log "installing ${missing[*]}"
	apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends "${missing[@]}" >"$work/apt.log" 2>&1 ||
		die "apt-get install failed: $(tail -5 "$work/apt.log")"
}

engine_up() { timeout 5 docker version >/dev/null 2>&1; }

start_engine() {
	if engine_up; then
		log "private engine already running on $DOCKER_HOST"
		return 0
	fi
	if [ "${SBC_DOCKER_COLD:-}" = 1 ]; then
		log "cold run: deleting $data_root and the debootstrap cache $base_cache"
		rm -rf "$data_root" "$base_cache"
	fi
	mkdir -p "$data_root" "$exec_root"
	dockerd --data-root "$data_root" --exec-root "$exec_root" --pidfile "$exec_root/dockerd.pid" \
		-H "$DOCKER_HOST" --iptables=false --ip6tables=false --bridge=none \
		>"$work/dockerd.log" 2>&1 &
	echo $! >"$work/dockerd.pid"
	local i
	for ((i = 0; i < 60; i++)); do
		engine_up && { log "private engine started (pid $(cat "$work/dockerd.pid"))"; return 0; }
		kill -0 "$(cat "$work/dockerd.pid")" 2>/dev/null || break
		sleep 0.5
	done
	die "dockerd did not start: $(tail -5 "$work/dockerd.log")"
}

stop_engine() {
	[ -s "$work/dockerd.pid" ] || return 0
	local pid i
	pid=$(cat "$work/dockerd.pid")
	kill "$pid" 2>/dev/null
	for ((i = 0; i < 60; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.5
	done
	kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
	rm -f "$work/dockerd.pid"
	log "private engine stopped"
}

write_env() {
	local secret
	secret() { head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
	mkdir -p "$work/tls"
	cat >"$work/test.env" <<-EOF
		SBC_PRIVATE_IP=127.0.6.1
		SBC_PUBLIC_IP=127.0.7.1
		SBC_SIP_PORT=5070
		SBC_TLS_DIR=$work/tls
		SBC_DB_PORT=13316
		SBC_DB_PASSWORD=$(secret)
		SBC_REDIS_PORT=16389
		SBC_REDIS_PASSWORD=$(secret)
		SBC_RTPENGINE_NG_PORT=2226
		SBC_RTP_PORT_MIN=42000
		SBC_RTP_PORT_MAX=42999
		SBC_AGENT_URL=http://127.0.0.1:$agent_port
		SBC_TOPOH_KEY=$(secret)
		SBC_SHM_MB=128
		SBC_CHILDREN=2
	EOF
}

# Ports of the test settings must be free: another stack on this host would answer instead.
check_ports() {
	local spec proto port
	for spec in udp:5070 tcp:5070 tcp:13316 tcp:16389 udp:2226 tcp:2227 tcp:$agent_port; do
		proto=${spec%%:*} port=${spec#*:}
		if ss -Hln"${proto:0:1}" "sport = :$port" | grep -qE "(127\.0\.[067]\.1|0\.0\.0\.0|\*|\[::\]):$port"; then
			die "$proto port $port is in use on this host: $(ss -Hlnp"${proto:0:1}" "sport = :$port" | head -2)"
		fi
	done
}

start_agent() {
	python3 "$top/tests/rating_double/rating_double.py" --listen "127.0.0.1:$agent_port" \
		--log "$work/agent-access.log" >"$work/agent.log" 2>&1 &
	echo $! >"$work/agent.pid"
	local i
	for ((i = 0; i < 50; i++)); do
		curl -sf "http://127.0.0.1:$agent_port/status" >/dev/null && return 0
		sleep 0.2
	done
	die "rating agent double did not start: $(tail -5 "$work/agent.log")"
}

stop_agent() {
	[ -s "$work/agent.pid" ] && kill "$(cat "$work/agent.pid")" 2>/dev/null
	rm -f "$work/agent.pid"
}

wait_healthy() {
	local deadline=$(($(date +%s) + 240)) svc id state all
	while :; do
		all=1
		for svc in mariadb redis rtpengine kamailio-sbc; do
			id=$(docker ps -aq --filter "label=com.docker.compose.project=$project" \
				--filter "label=com.docker.compose.service=$svc" --filter label=com.docker.compose.oneoff=False)
			state=$( [ -n "$id" ] && docker inspect -f '{{.State.Status}}/{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$id" 2>/dev/null)
			[ "$state" = running/healthy ] || all=0
			case "$state" in exited/* | dead/*) compose logs --tail 30 "$svc"; die "$svc exited" ;; esac
		done
		[ "$all" = 1 ] && return 0
		if [ "$(date +%s)" -gt "$deadline" ]; then
			compose ps
			compose logs --tail 30
			die "not every service became healthy within 240 s"
		fi
		sleep 2
	done
}

teardown() {
	local rc=$?
	if [ "${SBC_DOCKER_KEEP:-}" = 1 ]; then
		log "SBC_DOCKER_KEEP=1: stack and engine left running ($DOCKER_HOST, project $project)"
		exit $rc
	fi
	if engine_up && [ -f "$work/test.env" ]; then
		[ "$rc" = 0 ] || compose logs --tail 40 >"$work/compose-logs-on-failure.txt" 2>&1
		compose down -v --remove-orphans >"$work/down.log" 2>&1 && log "stack removed (containers and volumes)"
	fi
	stop_agent
	stop_engine
	exit $rc
}

[ "$(id -u)" = 0 ] || die "needs root (it runs its own dockerd)"
mkdir -p "$work"
if [ "${1:-}" = down ]; then
	trap teardown EXIT
	exit 0
fi
trap teardown EXIT
install_packages
start_engine
log "engine: $(docker version -f 'server {{.Server.Version}}, client {{.Client.Version}}'); compose: $(docker-compose version --short)"
if docker compose version >/dev/null 2>&1; then
	log "note: the Compose v2 plugin is available, but this test runs Debian's docker-compose 1.29"
fi
tests/docker/base-image.sh debian:bookworm-slim || die "no base image"
log "base image ready"
write_env
check_ports
log "building the images"
compose build >"$work/build.log" 2>&1 || { tail -40 "$work/build.log"; die "compose build failed (log: $work/build.log)"; }
log "images built: $(docker images --format '{{.Repository}}:{{.Tag}} {{.Size}}' 'kamailio-sbc/*' | tr '\n' ' ')"
start_agent
compose up -d >"$work/up.log" 2>&1 || { cat "$work/up.log"; die "compose up failed"; }
wait_healthy
log "all four services healthy"
export SBC_DOCKER_COMPOSE="docker-compose -p $project -f $top/docker/compose.yaml --env-file $work/test.env"
export SBC_DOCKER_AGENT_PORT=$agent_port
/usr/bin/python3 -m pytest -v -rfE -p no:cacheprovider --junitxml="$work/pytest.xml" tests/docker/stack
rc=$?
log "tests/docker/stack exited $rc"
exit $rc
