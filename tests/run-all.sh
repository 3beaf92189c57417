#!/usr/bin/env bash
# Runs the test suites and ends with one summary line "N passed, N failed".
#   tests/run-all.sh unit   cmocka unit tests only (tests/unit/*/, under ASan+UBSan)
#   tests/run-all.sh fuzz   the libFuzzer harnesses (tests/fuzz/) once over their seeds and regressions
#   tests/run-all.sh all    unit tests, the fuzz replay, the config check, the docker/ checks, then the
#                           pytest suites (tests/sipp/ against a real stack)
#   tests/run-all.sh cluster  the cluster tests only (tests/cluster/: two nodes on loopback)
# Exit status is non-zero when any test failed or a suite could not run.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
out=${SBC_TEST_OUT:-$top/build/test-results}
mkdir -p "$out"

passed=0
failed=0
broken=()

# cmocka prints "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s), listed below:" per group.
count_cmocka() { # logfile
	local p f
	p=$(grep -oE '^\[  PASSED  \] [0-9]+' "$1" | awk '{s += $NF} END {print s + 0}')
	f=$(grep -oE '^\[  FAILED  \] [0-9]+' "$1" | awk '{s += $NF} END {print s + 0}')
	passed=$((passed + p))
	failed=$((failed + f))
}

# Counts test cases from a JUnit XML file written by pytest.
count_junit() { # xmlfile
	local counts
	counts=$(python3 - "$1" <<-'PY'
		import sys, xml.etree.ElementTree as ET
		root = ET.parse(sys.argv[1]).getroot()
		p = f = 0
		for case in root.iter("testcase"):
		    if case.find("failure") is not None or case.find("error") is not None:
		        f += 1
		    elif case.find("skipped") is None:
		        p += 1
		print(p, f)
	PY
	) || return 1
	passed=$((passed + ${counts% *}))
	failed=$((failed + ${counts#* }))
}

run_unit() {
	local mk d name log
	for mk in tests/unit/*/Makefile; do
		[ -f "$mk" ] || continue
		d=$(dirname "$mk")
		name=$(basename "$d")
		log="$out/unit-$name.log"
		echo "=== unit: $name"
		if make -s -C "$d" test >"$log" 2>&1; then
			count_cmocka "$log"
		else
			count_cmocka "$log"
			cat "$log"
			# A crash or build error shows no FAILED line: count it so it cannot pass silently.
			grep -q '^\[  FAILED  \]' "$log" || { failed=$((failed + 1)); broken+=("unit/$name"); }
		fi
		grep -E '^\[  (PASSED|FAILED)  \]' "$log" || true
	done
}

# The libFuzzer harnesses of tests/fuzz, each run once over its seed corpus and regression inputs:
# one test per harness ("replay <harness>: N inputs ok" or "replay <harness>: FAILED").
run_fuzz_replay() {
	local log="$out/fuzz-replay.log" rc p f
	echo "=== fuzz replay: tests/fuzz"
	make -k -s -j2 -C tests/fuzz replay >"$log" 2>&1
	rc=$?
	p=$(grep -c '^replay .* inputs ok$' "$log")
	f=$(grep -c '^replay .*: FAILED$' "$log")
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$rc" -ne 0 ]; then
		cat "$log"
		# a build error shows no FAILED line: count it so it cannot pass silently
		[ "$f" -gt 0 ] || { failed=$((failed + 1)); broken+=("fuzz"); }
	else
		grep '^replay ' "$log"
	fi
}

# A script that checks one thing: exit status 0 counts as one passed test.
run_check() { # name script
	local name=$1 log="$out/check-$1.log"
	echo "=== check: $name"
	if bash "$2" >"$log" 2>&1; then
		passed=$((passed + 1))
		tail -1 "$log"
	else
		failed=$((failed + 1))
		cat "$log"
	fi
}

run_pytest() { # name dir
	local name=$1 dir=$2 xml="$out/pytest-$1.xml"
	[ -d "$dir" ] || return 0
	echo "=== pytest: $name"
	rm -f "$xml"
	local rc=0
	/usr/bin/python3 -m pytest -q -rfE -p no:cacheprovider --junitxml="$xml" "$dir" || rc=$?
	if [ -s "$xml" ]; then
		count_junit "$xml" || { failed=$((failed + 1)); broken+=("pytest/$name"); }
	else
		failed=$((failed + 1))
		broken+=("pytest/$name")
	fi
	# pytest: 0 all passed, 1 some failed (counted above); anything else (interrupted, pytest.exit()
	# e.g. the SIPp suite's lock not free in time, nothing collected) is a suite that did not run
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
		failed=$((failed + 1))
		broken+=("pytest/$name (exit $rc)")
	fi
}

case "${1:-all}" in
unit) run_unit ;;
fuzz) run_fuzz_replay ;;
all)
	run_unit
	run_fuzz_replay
	run_check check-cfg tests/check-cfg.sh
	# docker/: compose file validation, settings, entrypoint checks (no engine; make docker-test runs it).
	run_pytest docker-compose tests/docker/compose
	# RA_E2E=1: the rating_agent end-to-end tests (own Kamailio, Redis, double, SIPp on 127.0.9.x).
	RA_E2E=1 run_pytest rating_double tests/rating_double
	run_pytest sipp tests/sipp
	;;
cluster) run_pytest cluster tests/cluster ;;
*)
	echo "usage: $0 unit|fuzz|all|cluster" >&2
	exit 2
	;;
esac

[ "${#broken[@]}" -eq 0 ] || echo "suites that did not run to completion: ${broken[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
