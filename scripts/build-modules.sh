#!/usr/bin/env bash
# Builds our modules in-tree in the Kamailio source matching the installed binaries (see
# install-deps.sh) and collects the .so files in build/modules/. The module folders are copied, not
# symlinked, into <ksrc>/src/modules/ so Kamailio's own Makefiles build them with the packaged flags.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
kver=$(dpkg-query -W -f='${Version}' kamailio)
upstream=${kver%-*}
upstream=${upstream#*:}
ksrc=${KSRC:-$top/build/kamailio-$upstream}
out="$top/build/modules"
[ -f "$ksrc/src/Makefile.defs" ] || { echo "build-modules: no Kamailio source in $ksrc (run scripts/install-deps.sh)" >&2; exit 1; }
mkdir -p "$out"
for mod in "$@"; do
	dst="$ksrc/src/modules/$mod"
	rm -rf "$dst"
	cp -a "$top/src/modules/$mod" "$dst"
	echo "build-modules: $mod"
	make -s -C "$dst" >"$out/$mod.build.log" 2>&1 || { cat "$out/$mod.build.log" >&2; exit 1; }
	if grep -E 'warning:' "$out/$mod.build.log" >&2; then
		echo "build-modules: $mod has compiler warnings (see above)" >&2
		exit 1
	fi
	# A running Kamailio has the old file mapped: replace it by rename, never overwrite it in place.
	cp "$dst/$mod.so" "$out/.$mod.so.new"
	mv -f "$out/.$mod.so.new" "$out/$mod.so"
done
