#!/usr/bin/env bash
# make bench: builds Kamailio's stock http_async_client module (the prototype-style baseline's rating
# client) in the Kamailio source tree that `make modules` unpacked (build/kamailio-<version>), with the
# packaged build flags, so it loads into the installed Kamailio. Debian does not package the module.
# Needs libevent-dev (installed here when missing). Nothing of it is committed: the .so stays in build/.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
kver=$(dpkg-query -W -f='${Version}' kamailio)
upstream=${kver%-*}
upstream=${upstream#*:}
mod=$top/build/kamailio-$upstream/src/modules/http_async_client
[ -f "$mod/Makefile" ] || { echo "build-http-async-client: no Kamailio source in build/ (run make modules)" >&2; exit 1; }

if ! dpkg-query -W -f='${Status}' libevent-dev 2>/dev/null | grep -q 'install ok installed'; then
	sudo_cmd=()
	[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
	echo "build-http-async-client: installing libevent-dev"
	"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends libevent-dev
fi

if [ ! -f "$mod/http_async_client.so" ]; then
	echo "build-http-async-client: building $mod"
	make -s -C "$mod" >"$mod/build.log" 2>&1 || { cat "$mod/build.log" >&2; exit 1; }
fi
echo "$mod"
