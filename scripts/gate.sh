#!/bin/sh
# The reliability gate of scripts/test: sanitizers, fuzzing and static analysis.
#   1. build-asan/: clang, debugoptimized, -Db_sanitize=address,undefined (UBSan findings
#      fatal: -fno-sanitize-recover=undefined) with the libFuzzer targets (-Dfuzz=true);
#      every unit and CLI test runs under it;
#   2. each fuzz target (tests/fuzz) runs for PS_GATE_FUZZ_S seconds (default 12, five
#      targets: about 60 s) from seeds made of the committed fixtures;
#   3. cppcheck (warning and portability checks) on the library folders: src/* except the
#      CLI, metrics, stats, reports. A finding is fatal unless suppressed inline with
#      `// cppcheck-suppress ID` and a reason beside it.
# Prints "gate: N passed, N failed" as its last line (N counts Check cases of the ASan run
# plus one per fuzz target and one for cppcheck); exit status 0 when nothing failed.
set -u
cd "$(dirname "$0")/.."
fuzz_s=${PS_GATE_FUZZ_S:-12}
passed=0; failed=0
ok() { passed=$((passed + 1)); echo "gate: ok: $1"; }
bad() { failed=$((failed + 1)); echo "gate: FAILED: $1"; }

# ---- 1. sanitizer build and tests --------------------------------------------------------
if [ ! -f build-asan/build.ninja ]; then
  CC=clang meson setup build-asan --buildtype=debugoptimized -Db_sanitize=address,undefined \
    -Db_lundef=false -Dfuzz=true -Dc_args=-fno-sanitize-recover=undefined >&2 ||
    { bad "meson setup build-asan"; echo "gate: $passed passed, $failed failed"; exit 1; }
fi
if ! ninja -C build-asan -j2 >&2; then
  bad "build-asan"; echo "gate: $passed passed, $failed failed"; exit 1
fi
# LeakSanitizer stays on (leaks are findings); UBSan prints a stack and stops the program.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# tests/lsan.supp: third-party runtime blocks only, each with its reason
LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}
export ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
# sanitizers slow the tests 2-4x: scale meson's timeouts
meson test -C build-asan --print-errorlogs --num-processes 2 --timeout-multiplier 4 >&2
status=$?
log=build-asan/meson-logs/testlog.txt
summary=$(grep -hoE 'Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$log" |
  awk -F'[:,] *' '{c+=$2; f+=$4+$6} END {printf "%d %d", c-f, f}')
p=${summary% *}; f=${summary#* }
if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
  f=$(grep -cE '^ *[0-9]+/[0-9]+ .* (FAIL|TIMEOUT) ' "$log" || true); [ "$f" -gt 0 ] || f=1
fi
passed=$((passed + p)); failed=$((failed + f))
echo "gate: ASan/UBSan tests: $p passed, $f failed"

# ---- 2. fuzz targets ------------------------------------------------------------------------
seeds=$(mktemp -d "${TMPDIR:-/tmp}/panseval-gate.XXXXXX")
trap 'rm -rf "$seeds"' EXIT INT TERM
mkdir -p "$seeds/nifti" "$seeds/table" "$seeds/ckpt" "$seeds/json" "$seeds/inflate" "$seeds/out"
for f in $(find tests/golden -name '*.json' | head -50); do cp "$f" "$seeds/json/$(echo "$f" | tr / _)"; done
n=0
for f in tests/golden/io/*.nii tests/golden/io/*.nii.gz tests/golden/io/*.hdr \
         tests/golden/io/*.img; do
  [ -f "$f" ] || continue
  for m in 0 2 4 6; do
    n=$((n + 1)); { printf "\\$(printf %03o "$m")"; cat "$f"; } > "$seeds/nifti/s$n"
  done
  case "$f" in *.gz)
    for m in 1 3 5 7; do
      n=$((n + 1)); { printf "\\$(printf %03o "$m")"; gzip -dc "$f"; } > "$seeds/nifti/s$n"
    done ;;
  esac
done
for f in tests/golden/io/*.nii.gz; do
  [ -f "$f" ] || continue; n=$((n + 1)); { printf '\000\000'; cat "$f"; } > "$seeds/inflate/g$n"
done
cp tests/golden/io/*.tsv "$seeds/table/"
printf 'case,dice,"note, quoted"\r\np001,0.91,"a ""b""\nc"\n' > "$seeds/table/quoted.csv"
n=0
for f in tests/golden/infer/tensors/*.pt tests/golden/infer/*/fold_0/*.model; do
  [ -f "$f" ] || continue; n=$((n + 1)); { printf '\000'; cat "$f"; } > "$seeds/ckpt/z$n"
done
for f in tests/golden/infer/*/fold_0/*.pkl tests/golden/infer/*/*.pkl; do
  [ -f "$f" ] || continue; n=$((n + 1)); { printf '\001'; cat "$f"; } > "$seeds/ckpt/p$n"
done
run_fuzz() { # name binary corpus max_len
  if [ ! -x "$2" ]; then bad "fuzz $1: $2 was not built"; return; fi
  # -max_total_time bounds the run; a crash, leak, timeout or sanitizer report ends it with
  # a non-zero status and leaves the input in $seeds/out. -timeout is per input: the largest
  # legitimate work is a seed's bounded expansion (tests/golden/infer/tensors/expand_bomb.pt:
  # 2^24 elements through the strided copy, about 1 s of CPU under ASan and coverage, several
  # seconds on a busy machine), so 60 s means a real hang.
  if nice -n 5 "$2" -max_total_time="$fuzz_s" -max_len="$4" -timeout=60 -rss_limit_mb=2560 \
       -print_final_stats=1 -artifact_prefix="$seeds/out/$1-" "$3" \
       > "$seeds/$1.log" 2>&1; then
    ok "fuzz $1 ($(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$seeds/$1.log" |
                   grep -oE '[0-9]+$') inputs in ${fuzz_s} s)"
  else
    tail -40 "$seeds/$1.log" >&2
    for a in "$seeds/out/$1-"*; do
      [ -f "$a" ] && mkdir -p build-asan/fuzz-findings && cp "$a" build-asan/fuzz-findings/
    done
    bad "fuzz $1 (reproducer in build-asan/fuzz-findings/)"
  fi
}
run_fuzz nifti build-asan/tests/io/fuzz_nifti "$seeds/nifti" 65536
run_fuzz table build-asan/tests/io/fuzz_table "$seeds/table" 4096
run_fuzz checkpoint build-asan/tests/infer/fuzz_checkpoint "$seeds/ckpt" 300000
run_fuzz json build-asan/tests/io/fuzz_json "$seeds/json" 65536
run_fuzz inflate build-asan/tests/io/fuzz_inflate "$seeds/inflate" 65536

# ---- 3. cppcheck ---------------------------------------------------------------------------
dirs=$(for d in src/*/; do [ "$d" = src/cli/ ] || printf '%s ' "${d%/}"; done)
incs=$(for d in $dirs metrics stats reports; do printf -- '-I%s ' "$d"; done)
# shellcheck disable=SC2086
if cppcheck -q --std=c11 --enable=warning,portability --inline-suppr --error-exitcode=1 -j2 \
     -Ibuild $incs $dirs metrics stats reports >&2; then
  ok "cppcheck ($dirs metrics stats reports)"
else
  bad "cppcheck found problems (above)"
fi
echo "gate: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
