#!/bin/sh
# The whole test suite, as `make test` and CI run it:
#   1. unit tests (cmocka) in the normal and the ASan+UBSan build
#   2. every libFuzzer target for a few seconds on its seed corpus
#   3. integration tests (pytest) against the ASan+UBSan binary
# Any sanitizer report fails the run. The last line is the total:
# "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
root=$(pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
FUZZ_SECONDS=${FUZZ_SECONDS:-5}

count_cmocka() {	# log file
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$1" | tail -n 1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$1" | tail -n 1)
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
}

echo "== unit tests"
for build in build build-asan; do
	for t in "$build"/test-*; do
		[ -f "$t" ] && [ -x "$t" ] || continue
		log="$tmp/$(basename "$build")-$(basename "$t").log"
		POSTIE_SOURCE_ROOT="$root" ASAN_OPTIONS=detect_leaks=1 \
		    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		    "$t" >"$log" 2>&1
		rc=$?
		count_cmocka "$log"
		if [ $rc -ne 0 ]; then
			cat "$log"
			# A crash before cmocka's summary still counts.
			grep -q '^\[  FAILED  \]' "$log" || failed=$((failed + 1))
			echo "FAIL $build/$(basename "$t") (exit $rc)"
		else
			echo "ok   $build/$(basename "$t")"
		fi
	done
done

echo "== fuzz targets (${FUZZ_SECONDS}s each)"
for f in build-fuzz/fuzz-*; do
	[ -f "$f" ] && [ -x "$f" ] || continue
	name=${f#build-fuzz/fuzz-}
	corpus="$tmp/corpus-$name"
	mkdir -p "$corpus"
	cp tests/fuzz/corpus/"$name"/* "$corpus"/ 2>/dev/null
	if "$f" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
	    -artifact_prefix="$tmp/" "$corpus" >"$tmp/fuzz-$name.log" 2>&1; then
		passed=$((passed + 1))
		echo "ok   fuzz-$name"
	else
		failed=$((failed + 1))
		tail -n 40 "$tmp/fuzz-$name.log"
		echo "FAIL fuzz-$name (crash input in the log above)"
	fi
done

echo "== integration tests"
mkdir -p "$tmp/asan"
POSTIE_BIN="$root/build-asan/postie" \
    ASAN_OPTIONS="detect_leaks=0:log_path=$tmp/asan/report" \
    UBSAN_OPTIONS="print_stacktrace=1:log_path=$tmp/asan/report" \
    /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration \
    2>&1 | tee "$tmp/pytest.log"
p=$(tail -n 1 "$tmp/pytest.log" | grep -o '[0-9]* passed' | grep -o '[0-9]*')
f=$(tail -n 1 "$tmp/pytest.log" | grep -o '[0-9]* \(failed\|errors\?\)' |
    awk '{ n += $1 } END { if (NR) print n }')
[ -n "$p$f" ] || f=1	# pytest did not run to its summary
passed=$((passed + ${p:-0}))
failed=$((failed + ${f:-0}))
if ls "$tmp"/asan/report* >/dev/null 2>&1; then
	echo "== sanitizer reports from the integration run"
	cat "$tmp"/asan/report*
	failed=$((failed + 1))
fi

echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
