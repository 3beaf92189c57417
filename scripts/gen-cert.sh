#!/usr/bin/env bash
# Self-signed TLS certificate for the SBC's public TLS socket (local use: `make run`, the test stack).
# Production uses a certificate from a CA the AI platforms trust (TLS_CERT / TLS_KEY in
# etc/kamailio-local.cfg).
#
#   scripts/gen-cert.sh <dir> [ip-or-name ...]
#
# Writes <dir>/sbc-cert.pem and <dir>/sbc-key.pem (key readable by the owner only), valid 825 days,
# CN kamailio-sbc, subjectAltName: the given IPs/names (default 127.0.2.1) plus localhost. Does
# nothing when a certificate that is still valid for at least a day is already there.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 <dir> [ip-or-name ...]" >&2; exit 2; }
dir=$1
shift
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(127.0.2.1)
cert=$dir/sbc-cert.pem
key=$dir/sbc-key.pem

if [ -s "$cert" ] && [ -s "$key" ] && openssl x509 -in "$cert" -noout -checkend 86400 >/dev/null 2>&1; then
	exit 0
fi

san="DNS:localhost"
for n in "${names[@]}"; do
	if [[ $n =~ ^[0-9.]+$ || $n == *:* ]]; then san+=",IP:$n"; else san+=",DNS:$n"; fi
done

mkdir -p "$dir"
umask 077
openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 825 \
	-subj "/CN=kamailio-sbc" -addext "subjectAltName=$san" \
	-keyout "$key.tmp" -out "$cert.tmp" >/dev/null 2>&1 ||
	{ echo "gen-cert: openssl failed" >&2; rm -f "$key.tmp" "$cert.tmp"; exit 1; }
mv "$key.tmp" "$key"
mv "$cert.tmp" "$cert"
chmod 644 "$cert"
echo "gen-cert: self-signed certificate $cert ($san)"
