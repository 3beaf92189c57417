# shellcheck shell=bash
# kamailio-sbc images: checks of the SBC_* settings, sourced by every entrypoint and healthcheck.
#
# Each check reads one variable, applies its default when it is unset or empty, and stops the
# container at once (exit 64, EX_USAGE) with one line that names the variable, what is wrong and an
# example, before any daemon starts. On success the variable holds the final value.
# The caller sets SBC_COMPONENT (the name printed in front of every message).

sbc_die() {
	echo "${SBC_COMPONENT:-kamailio-sbc}: configuration error: $*" >&2
	exit 64
}

sbc_log() {
	echo "${SBC_COMPONENT:-kamailio-sbc}: $*" >&2
}

# _sbc_value NAME DEFAULT: the variable's value, or DEFAULT when unset or empty.
_sbc_value() {
	local v=${!1:-}
	[ -n "$v" ] || v=$2
	printf '%s' "$v"
}

_sbc_is_ipv4() {
	local IFS=. octet
	[[ $1 =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || return 1
	for octet in $1; do
		[ "$((10#$octet))" -le 255 ] || return 1
	done
}

# sbc_ipv4 NAME DEFAULT MEANING: an IPv4 address; DEFAULT "" makes the variable required.
sbc_ipv4() {
	local v
	v=$(_sbc_value "$1" "$2")
	[ -n "$v" ] || sbc_die "$1 is not set: $3 (an IPv4 address, e.g. $1=192.0.2.10)"
	_sbc_is_ipv4 "$v" || sbc_die "$1='$v' is not an IPv4 address: $3 (e.g. $1=192.0.2.10)"
	printf -v "$1" '%s' "$v"
}

# sbc_ipv4_optional NAME MEANING: an IPv4 address or nothing.
sbc_ipv4_optional() {
	local v=${!1:-}
	[ -z "$v" ] || _sbc_is_ipv4 "$v" || sbc_die "$1='$v' is not an IPv4 address: $2 (or leave it empty)"
}

# sbc_int NAME DEFAULT MIN MAX MEANING: a decimal integer in [MIN, MAX].
sbc_int() {
	local v
	v=$(_sbc_value "$1" "$2")
	[ -n "$v" ] || sbc_die "$1 is not set: $5"
	[[ $v =~ ^-?[0-9]{1,9}$ ]] && [ "$v" -ge "$3" ] && [ "$v" -le "$4" ] ||
		sbc_die "$1='$v' is not a number from $3 to $4: $5"
	if [ "${v:0:1}" = - ]; then v=$((-(10#${v#-}))); else v=$((10#$v)); fi
	printf -v "$1" '%d' "$v"
}

# sbc_port NAME DEFAULT MEANING: a TCP/UDP port, 1-65535.
sbc_port() {
	sbc_int "$1" "$2" 1 65535 "$3 (a port, 1-65535)"
}

# sbc_bool NAME DEFAULT MEANING: 1/0 (also yes/no, true/false, on/off); normalized to 1 or 0.
sbc_bool() {
	local v
	v=$(_sbc_value "$1" "$2")
	case "${v,,}" in
	1 | yes | true | on) printf -v "$1" 1 ;;
	0 | no | false | off) printf -v "$1" 0 ;;
	*) sbc_die "$1='$v' is not 1 or 0: $3" ;;
	esac
}

# sbc_choice NAME DEFAULT "a|b|c" MEANING
sbc_choice() {
	local v
	v=$(_sbc_value "$1" "$2")
	[[ "|$3|" == *"|$v|"* ]] || sbc_die "$1='$v' must be one of $3: $4"
	printf -v "$1" '%s' "$v"
}

# sbc_word NAME DEFAULT MEANING: a name such as a database or user name (letters, digits, _ . -).
sbc_word() {
	local v
	v=$(_sbc_value "$1" "$2")
	[ -n "$v" ] || sbc_die "$1 is not set: $3"
	[[ $v =~ ^[A-Za-z0-9_.-]{1,64}$ ]] || sbc_die "$1='$v' may hold only letters, digits, _ . - (at most 64): $3"
	printf -v "$1" '%s' "$v"
}

# sbc_host NAME DEFAULT MEANING: a host name or IPv4 address.
sbc_host() {
	local v
	v=$(_sbc_value "$1" "$2")
	[ -n "$v" ] || sbc_die "$1 is not set: $3"
	[[ $v =~ ^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$ ]] || sbc_die "$1='$v' is not a host name or IPv4 address: $3"
	printf -v "$1" '%s' "$v"
}

# sbc_secret NAME REQUIRED MEANING: a password or key. It ends up inside URLs, SQL and cfg strings,
# so only characters that need no quoting anywhere are allowed; at least 8 of them. The value is
# never printed.
sbc_secret() {
	local v=${!1:-}
	if [ -z "$v" ]; then
		[ "$2" = 1 ] || return 0
		sbc_die "$1 is not set: $3 (e.g. $1=\$(openssl rand -hex 16) in .env)"
	fi
	[[ $v =~ ^[A-Za-z0-9._~+=^-]{8,128}$ ]] ||
		sbc_die "$1 must be 8-128 characters from A-Z a-z 0-9 . _ ~ + = ^ - : $3 (e.g. openssl rand -hex 16)"
}

# sbc_url NAME MEANING: a required http(s) URL (no quotes, spaces or backslashes).
sbc_url() {
	local v=${!1:-}
	[ -n "$v" ] || sbc_die "$1 is not set: $2 (e.g. $1=http://10.0.0.20:8000)"
	[[ $v =~ ^https?://[A-Za-z0-9._~:/?#@!$\&\'()*+,\;=%-]+$ ]] ||
		sbc_die "$1='$v' is not an http:// or https:// URL: $2"
}

# sbc_port_range MIN_NAME MAX_NAME: MIN < MAX (both checked with sbc_port before).
sbc_port_range() {
	[ "${!1}" -lt "${!2}" ] || sbc_die "$1 (${!1}) must be lower than $2 (${!2})"
}
