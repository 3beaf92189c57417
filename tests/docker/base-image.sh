#!/usr/bin/env bash
# Makes the Debian base image of docker/*/Dockerfile available to the engine at $DOCKER_HOST:
# present already -> nothing to do; else `docker pull`; else (no registry, as on the test machine)
# debootstrap bookworm (minbase) from the Debian mirror and `docker import` it under the same name.
# The debootstrapped tarball is kept in $SBC_DOCKER_BASE_CACHE so a later cold run skips debootstrap.
#
#   tests/docker/base-image.sh [image]          (default debian:bookworm-slim)
set -euo pipefail
image=${1:-debian:bookworm-slim}
mirror=${SBC_DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=${SBC_DOCKER_BASE_CACHE:-/var/lib/sbc-docker-base}
tarball=$cache/bookworm-minbase.tar

log() { echo "base-image: $*"; }

if docker image inspect "$image" >/dev/null 2>&1; then
	log "$image present"
	exit 0
fi
if timeout 60 docker pull -q "$image" >/dev/null 2>&1; then
	log "$image pulled"
	exit 0
fi
log "$image cannot be pulled: building it with debootstrap from $mirror"
if [ ! -s "$tarball" ]; then
	command -v debootstrap >/dev/null || { echo "base-image: debootstrap is not installed" >&2; exit 1; }
	mkdir -p "$cache"
	root=$(mktemp -d "$cache/rootfs.XXXXXX")
	trap 'rm -rf "$root"' EXIT
	debootstrap --variant=minbase bookworm "$root" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
		{ tail -20 "$cache/debootstrap.log" >&2; exit 1; }
	# The same apt sources as Debian's official image (security updates included).
	rm -f "$root/etc/apt/sources.list"
	cat >"$root/etc/apt/sources.list.d/debian.sources" <<-SRC
		Types: deb
		URIs: $mirror
		Suites: bookworm bookworm-updates
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

		Types: deb
		URIs: ${mirror%/debian}/debian-security
		Suites: bookworm-security
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	SRC
	rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/var/log/*.log
	tar -C "$root" --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
		-cf "$tarball.new" .
	mv -f "$tarball.new" "$tarball"
fi
docker import --change 'CMD ["bash"]' "$tarball" "$image" >/dev/null
log "$image imported from $tarball"
