#!/usr/bin/env bash
# `make fuzz`: build every tests/fuzz/fuzz_<name>.c with clang -fsanitize=fuzzer,address,
# undefined and run each for FUZZ_SECONDS (default 60) on tests/fuzz/corpus/<name>/, adding
# new inputs to it.
#
# Each target is compiled together with the sources of the modules it needs: its
# LIBS_fuzz_<name> (in some tests/<layer>/*.mk, default all modules, as for the gcc replay
# programs), plus the non-C objects of those modules and the libraries, all printed by
# `make fuzz-info-fuzz_<name>` (tests/unit/fuzz.mk). tests/fuzz/fuzz_<name>.dict, if
# present, is passed as a libFuzzer dictionary.
#
# Environment: BUILD (default build), FUZZ_SECONDS, FUZZ_TARGETS="scenario xcheck" (default
# every target), FUZZ_JOBS (parallel fuzzing processes per target, default 1),
# FUZZ_MERGE=1 (after the run, minimise the corpus in place with -merge=1).
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${FUZZ_SECONDS:-60}
build=${BUILD:-build}
jobs=${FUZZ_JOBS:-1}
out=$build/fuzz
mkdir -p "$out"
targets=()
if [ -n "${FUZZ_TARGETS:-}" ]; then
	for n in $FUZZ_TARGETS; do targets+=("tests/fuzz/fuzz_$n.c"); done
else
	targets=(tests/fuzz/fuzz_*.c)
fi
rc=0
for t in "${targets[@]}"; do
	[ -f "$t" ] || { echo "run-libfuzzer: no $t"; exit 2; }
	name=$(basename "$t" .c); short=${name#fuzz_}
	info=$(make -s --no-print-directory BUILD="$build" "fuzz-info-$name")
	srcs=$(sed -n 1p <<<"$info")
	libs=$(sed -n 2p <<<"$info")
	# Module sources go into an archive, as for the replay programs: the link takes only
	# the objects the target needs.
	obj=$out/obj/$name
	rm -rf "$obj" && mkdir -p "$obj"
	echo "  CLANG    $out/$name ($(wc -w <<<"$srcs") module files; $libs)"
	# shellcheck disable=SC2054 # the commas belong to -fsanitize=
	cflags=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
		-Iinclude -Itests/common -I"$build/gen" -D_GNU_SOURCE)
	objs=() pids=()
	for src in $srcs; do
		case $src in
		*.c)
			o=$obj/$(tr / _ <<<"${src%.c}").o
			clang "${cflags[@]}" -c "$src" -o "$o" &
			pids+=($!) objs+=("$o") ;;
		*) objs+=("$src") ;;
		esac
	done
	for p in "${pids[@]}"; do wait "$p" || { echo "run-libfuzzer: $name: compile failed"; exit 1; }; done
	ar rcs "$obj/modules.a" "${objs[@]}"
	# shellcheck disable=SC2086 # library list from make
	clang "${cflags[@]}" -o "$out/$name" "$t" "$obj/modules.a" -Wl,--as-needed $libs
	corpus=$PWD/tests/fuzz/corpus/$short
	mkdir -p "$corpus"
	args=(-max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048)
	[ "$jobs" -gt 1 ] && args+=(-jobs="$jobs" -workers="$jobs")
	[ -f "tests/fuzz/$name.dict" ] && args+=(-dict="$PWD/tests/fuzz/$name.dict")
	echo "  FUZZ     $name (${secs}s, $(find "$corpus" -type f | wc -l) corpus files)"
	# New inputs go to the corpus; a crash leaves crash-* in $out and fails `make fuzz`.
	if ! (cd "$out" && "./$name" "${args[@]}" "$corpus") >"$out/$name.log" 2>&1; then
		rc=1
		echo "  FAIL     $name: see $out/$name.log and $out/crash-*"
		grep -E 'ERROR|SUMMARY|Test unit written' "$out/$name.log" | head -5 | sed 's/^/      | /'
	fi
	grep -E '^stat::(number_of_executed_units|new_units_added|peak_rss_mb)' "$out/$name.log" |
		sed 's/^/      /' || true
	if [ "${FUZZ_MERGE:-0}" = 1 ]; then
		# Minimise: hand-written seeds (any name but a 40-hex libFuzzer name or
		# min-<hex>) all stay; of the rest, -merge=1 keeps the inputs that add coverage
		# beyond the seeds, renamed min-<sha1 prefix>.
		tmp=$(mktemp -d "$out/merge-$short.XXXX")
		mkdir "$tmp/keep" "$tmp/rest"
		for f in "$corpus"/*; do
			case ${f##*/} in
			min-*) mv "$f" "$tmp/rest/" ;;
			*) if [[ ${f##*/} =~ ^[0-9a-f]{40}$ ]]; then mv "$f" "$tmp/rest/"
			   else cp "$f" "$tmp/keep/"; fi ;;
			esac
		done
		"$out/$name" -merge=1 "$tmp/keep" "$tmp/rest" >"$out/$name.merge.log" 2>&1 ||
			{ echo "  FAIL     merge: see $out/$name.merge.log"; rc=1; }
		for f in "$tmp/keep"/*; do
			[ -e "$corpus/${f##*/}" ] && continue
			h=$(sha1sum <"$f" | cut -c1-40)
			cp "$f" "$corpus/min-${h:0:12}"
		done
		rm -rf "$tmp"
		echo "  MERGE    $corpus: $(find "$corpus" -type f | wc -l) files"
	fi
done
exit $rc
