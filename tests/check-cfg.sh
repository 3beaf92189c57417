#!/usr/bin/env bash
# Config check: `kamailio -c` over etc/kamailio.cfg with combinations of the documented feature toggles
# of etc/kamailio-local.cfg (all of them up to 6 toggles, else every pair; see below), so that no
# #!ifdef branch can rot unnoticed.
#
#   tests/check-cfg.sh            (make check-cfg; part of make test)
#
# Toggles are found in the cfg files themselves, so a new one is checked as soon as it exists:
#   - a feature on by default is written `#!ifndef NO_X` + `#!trydef WITH_X` in kamailio-local.cfg:
#     the toggle is NO_X;
#   - any other WITH_X tested by #!ifdef/#!ifndef in either file is an opt-in: the toggle is WITH_X.
# Each combination must parse with exit status 0 and without ERROR/CRITICAL lines. A few value
# variants (settings that change which statements are parsed) are checked on top, and a
# `#!trydef NAME` of kamailio-local.cfg that kamailio.cfg never uses is reported.
#
# Environment: SBC_MODULES_DIR (default <repo>/build/modules, must hold sbc_tenant.so: run make
# modules first), KAMAILIO (default kamailio). `kamailio -c` parses and resolves modules, parameters
# and functions; it does not open sockets or read certificates, so it runs anywhere.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cfg=$top/etc/kamailio.cfg
local_cfg=$top/etc/kamailio-local.cfg
modules_dir=${SBC_MODULES_DIR:-$top/build/modules}
kamailio=${KAMAILIO:-kamailio}

die() { echo "check-cfg: ERROR: $*" >&2; exit 1; }
command -v "$kamailio" >/dev/null || die "$kamailio not found (scripts/install-deps.sh installs it)"
[ -f "$modules_dir/sbc_tenant.so" ] || die "$modules_dir/sbc_tenant.so missing (run make modules)"

# ---- toggles ----------------------------------------------------------------------------------
mapfile -t default_on < <(grep -oE '^#!ifndef[[:space:]]+NO_[A-Z0-9_]+' "$local_cfg" | awk '{print $2}' | sort -u)
mapfile -t used_with < <(grep -hoE '^#!if(n)?def[[:space:]]+WITH_[A-Z0-9_]+' "$cfg" "$local_cfg" | awk '{print $2}' | sort -u)
toggles=("${default_on[@]}")
for w in "${used_with[@]}"; do
	printf '%s\n' "${default_on[@]}" | grep -qx "NO_${w#WITH_}" || toggles+=("$w")
done
n=${#toggles[@]}
[ "$n" -gt 0 ] || die "no feature toggles found in $local_cfg"

# ---- one kamailio -c run ------------------------------------------------------------------------
failed=0
checked=0
check() { # label, then extra kamailio arguments
	local label=$1 out rc
	shift
	out=$(cd "$top" && "$kamailio" -c -f "$cfg" -A "MODULES_DIR=\"$modules_dir\"" "$@" 2>&1)
	rc=$?
	checked=$((checked + 1))
	if [ $rc -ne 0 ] || grep -qE '(ERROR|CRITICAL|ALERT|BUG):' <<<"$out"; then
		failed=$((failed + 1))
		echo "check-cfg: FAIL [$label] (exit $rc): kamailio -c -f etc/kamailio.cfg $*"
		grep -E '(ERROR|CRITICAL|ALERT|BUG|WARNING):|error' <<<"$out" | head -10 | sed 's/^/    /'
	fi
}

# Up to MAX_ALL toggles: every subset (bit i of mask set = toggle i given with -A). More: every pair
# of toggles with all others off and with all others on, plus none and all (2^n would take too long;
# an #!ifdef nesting more than two toggles deep would need a subset of its own here).
MAX_ALL=6
masks=()
if [ "$n" -le "$MAX_ALL" ]; then
	for ((mask = 0; mask < (1 << n); mask++)); do masks+=("$mask"); done
else
	all=$(((1 << n) - 1))
	masks=(0 "$all")
	for ((i = 0; i < n; i++)); do
		for ((j = i; j < n; j++)); do
			pair=$(((1 << i) | (1 << j)))
			masks+=("$pair" "$((all & ~pair))")
		done
	done
fi
for mask in $(printf '%s\n' "${masks[@]}" | sort -nu); do
	args=()
	names=()
	for ((i = 0; i < n; i++)); do
		if ((mask & (1 << i))); then
			args+=(-A "${toggles[i]}")
			names+=("${toggles[i]}")
		fi
	done
	check "${names[*]:-defaults}" "${args[@]}"
done

# Value settings that switch statements on or off, with everything else at its default.
check "CTL_SOCKET" -A 'CTL_SOCKET="unix:/tmp/kamailio-sbc-check.ctl"'
check "GW_AUTH off" -A GW_AUTH=0
check "cluster peers" -A WITH_CLUSTER -A 'DMQ_NOTIFY2="sip:127.0.1.3:5062"' \
	-A 'CLUSTER_ALIASES=127.0.1.2:5060 127.0.2.2:5060 127.0.2.2:5061'
check "advertised public address" -A PUBLIC_ADVERTISED_IP=203.0.113.10
check "advertised public address, TLS" -A PUBLIC_ADVERTISED_IP=203.0.113.10 -A WITH_TLS
check "site addresses" -A PRIVATE_IP=10.0.0.10 -A PUBLIC_IP=192.0.2.10 -A SIP_PORT=5080 \
	-A 'DBURL="mysql://kamailio:secret@10.0.0.20:3306/kamailio"'

# ---- documented settings are used ---------------------------------------------------------------
# A setting nothing reads is only reported (it may be waiting for a feature still being wired in).
mapfile -t settings < <(grep -oE '^#!trydef[[:space:]]+[A-Z][A-Z0-9_]*' "$local_cfg" | awk '{print $2}' | sort -u)
cfg_code=$(grep -v '^[[:space:]]*#[^!]' "$cfg")
for s in "${settings[@]}"; do
	case "$s" in WITH_*) continue ;; esac
	grep -qw -- "$s" <<<"$cfg_code" ||
		echo "check-cfg: note: $s is set in kamailio-local.cfg but not used by kamailio.cfg"
done

echo "check-cfg: toggles: ${toggles[*]}"
if [ $failed -ne 0 ]; then
	echo "check-cfg: $failed of $checked checks failed"
	exit 1
fi
echo "check-cfg: all $checked combinations parse"
