#!/usr/bin/env bash
# Installs what building, running and testing the SBC needs on Debian bookworm, and unpacks the
# Kamailio source package matching the installed Kamailio binaries into build/.
# Idempotent: installs only what is missing, unpacks the source only once.
#
# SBC_DEPS=build installs only what building the modules needs (docker/Dockerfile's build stage runs
# `SBC_DEPS=build make modules`); the default (all) adds what running and testing the stack needs.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

packages=(
	kamailio dpkg-dev gcc make flex bison pkg-config libssl-dev libmariadb-dev libhiredis-dev
	libcurl4-openssl-dev libjson-c-dev libevent-dev
)
case "${SBC_DEPS:-all}" in
build) ;;
all)
	packages+=(
		kamailio-mysql-modules kamailio-redis-modules kamailio-json-modules
		kamailio-utils-modules kamailio-extra-modules kamailio-tls-modules kamailio-lua-modules
		libcmocka-dev valgrind clang libclang-rt-14-dev
		mariadb-server mariadb-client redis-server rtpengine-daemon rtpengine-utils
		sip-tester python3 python3-pytest procps iproute2 openssl curl
		# tests/docker/compose validates docker/compose.yaml with Debian's docker-compose (1.29)
		docker-compose
	)
	;;
*)
	echo "install-deps: SBC_DEPS must be build or all, not '$SBC_DEPS'" >&2
	exit 2
	;;
esac

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

src_list=/etc/apt/sources.list.d/kamailio-sbc-deb-src.sources
need_src=0
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
	need_src=1
fi

if [ "$need_src" -eq 1 ]; then
	echo "install-deps: adding a deb-src entry ($src_list) mirroring the deb entry"
	"${sudo_cmd[@]}" tee "$src_list" >/dev/null <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi

if [ "${#missing[@]}" -gt 0 ] || [ "$need_src" -eq 1 ]; then
	echo "install-deps: apt-get update"
	"${sudo_cmd[@]}" apt-get update -q
fi
if [ "${#missing[@]}" -gt 0 ]; then
	echo "install-deps: installing ${missing[*]}"
	"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

kver=$(dpkg-query -W -f='${Version}' kamailio)
upstream=${kver%-*}
upstream=${upstream#*:}
ksrc="$top/build/kamailio-$upstream"
if [ ! -f "$ksrc/src/Makefile.defs" ]; then
	echo "install-deps: fetching Kamailio source $kver (matches the installed binaries)"
	mkdir -p "$top/build/apt-src"
	(cd "$top/build/apt-src" && apt-get source -q "kamailio=$kver" >/dev/null)
	rm -rf "$ksrc"
	mv "$top/build/apt-src/kamailio-$upstream" "$ksrc"
	rm -rf "$top/build/apt-src"
fi
echo "install-deps: ok (kamailio $kver, source in build/kamailio-$upstream)"
