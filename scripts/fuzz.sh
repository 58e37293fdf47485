#!/bin/sh
# `make fuzz`: run every libFuzzer target for FUZZ_SECONDS on its corpus,
# growing the corpus in tests/fuzz/corpus/NAME. Crashes land in tests/fuzz/.
set -eu
cd "$(dirname "$0")/.."
for f in build-fuzz/fuzz-*; do
	name=${f#build-fuzz/fuzz-}
	mkdir -p tests/fuzz/corpus/"$name"
	echo "== fuzz-$name for ${FUZZ_SECONDS}s"
	"$f" -max_total_time="$FUZZ_SECONDS" -timeout=10 \
	    -artifact_prefix=tests/fuzz/ tests/fuzz/corpus/"$name"
done
