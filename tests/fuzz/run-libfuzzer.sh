#!/usr/bin/env bash
# `make fuzz`: build every tests/fuzz/fuzz_*.c with clang -fsanitize=fuzzer,address,undefined
# and run each for FUZZ_SECONDS (default 60) on its corpus, adding new inputs to it.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${FUZZ_SECONDS:-60}
out=build/fuzz
mkdir -p "$out"
srcs=$(find daemon -name '*.c' ! -name main.c ! -path '*/guest/*' | sort)
for t in tests/fuzz/fuzz_*.c; do
	name=$(basename "$t" .c); short=${name#fuzz_}
	echo "  FUZZ     $name (${secs}s)"
	clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-Iinclude -Ibuild/gen -D_GNU_SOURCE -o "$out/$name" "$t" $(grep -l '' $srcs | grep irqchip) -lpthread -lm
	mkdir -p "tests/fuzz/corpus/$short"
	"$out/$name" -max_total_time="$secs" -print_final_stats=1 "tests/fuzz/corpus/$short" 2>&1 | tail -5
done
