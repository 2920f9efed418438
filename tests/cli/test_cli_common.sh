#!/bin/sh
# CLI tests of what every command shares (issue 12 A1, A3, A6, A7, A10, A12): the output file
# is checked before any work and never replaces an input, a read-only file or a link; the
# format follows the suffix of -o; `help CMD`; one error line for a missing option argument;
# -q keeps errors; shortest round-trip numbers. Expected facts: the documented behaviour
# (src/cli/cli.h, docs/io.md).
set -u
. "$(dirname "$0")/cli_lib.sh"
T=$PS_TEST_TMPDIR/cli_common
rm -rf "$T"; mkdir -p "$T"
G=$PS_TEST_SRCDIR/golden/metrics
R=$G/case_00_ref.nii.gz
P=$G/case_00_pred.nii.gz

# --- A1: a bad output path is refused before any work, naming the path --------------------------
"$PANSEVAL" metrics --ref "$R" --pred "$P" -o "$T/missing/dir/out.csv" >"$T/out" 2>"$T/err"
check_status "output in a missing folder: usage error" 2 $?
check_contains "missing folder is named" "$T/err" "$T/missing/dir"
check_contains "missing folder: says it does not exist" "$T/err" "does not exist"
"$PANSEVAL" metrics --ref "$R" --pred "$P" -o "" >"$T/out" 2>"$T/err"
check_status "an empty -o is a usage error" 2 $?
mkdir -p "$T/adir"
"$PANSEVAL" metrics --ref "$R" --pred "$P" -o "$T/adir" >"$T/out" 2>"$T/err"
check_status "output is a folder: usage error" 2 $?
check_contains "output folder is named" "$T/err" "$T/adir: is a folder"
# before any work: a manifest whose files do not exist is not even read
printf 'case\tref\tpred:m\nc1\tnope.nii.gz\tnope.nii.gz\n' >"$T/m.tsv"
"$PANSEVAL" metrics --manifest "$T/m.tsv" -o "$T/missing/x.csv" >"$T/out" 2>"$T/err"
check_status "bad output with a bad manifest: the output is reported first" 2 $?
check_not_contains "no case was run" "$T/err" "nope.nii.gz"
if [ "$(id -u)" != 0 ]; then
  mkdir -p "$T/ro_dir"; chmod 555 "$T/ro_dir"
  "$PANSEVAL" metrics --ref "$R" --pred "$P" -o "$T/ro_dir/x.csv" >"$T/out" 2>"$T/err"
  check_status "unwritable folder: usage error" 2 $?
  chmod 755 "$T/ro_dir"
fi

# --- A3: inputs, read-only files, links, modes ----------------------------------------------------
cp "$T/m.tsv" "$T/m_copy.tsv"
"$PANSEVAL" metrics --manifest "$T/m.tsv" -o "$T/m.tsv" >"$T/out" 2>"$T/err"
check_status "-o equal to the manifest is refused" 2 $?
check_contains "the refusal names the input" "$T/err" "is the input file"
check_same "the manifest is untouched" "$T/m.tsv" "$T/m_copy.tsv"
ln -sf "$T/m.tsv" "$T/m_link.tsv"
"$PANSEVAL" metrics --manifest "$T/m.tsv" -o "$T/m_link.tsv" >"$T/out" 2>"$T/err"
check_status "-o a link to the manifest is refused (same inode)" 2 $?
"$PANSEVAL" metrics --ref "$R" --pred "$P" -o "$T/one.csv" 2>"$T/err"
check_status "metrics --ref --pred exits 0" 0 $?
cp "$T/one.csv" "$T/one_copy.csv"
"$PANSEVAL" summary "$T/one.csv" --format csv -o "$T/one.csv" >"$T/out" 2>"$T/err"
check_status "summary -o equal to its TABLE is refused" 2 $?
check_same "the table is untouched" "$T/one.csv" "$T/one_copy.csv"
"$PANSEVAL" summary "$T/./one.csv" --format csv -o "$T/one.csv" >"$T/out" 2>"$T/err"
check_status "the same file under another spelling is refused" 2 $?
# MODEL=FILE inputs (nnU-Net summary.json): FILE is the input, in every spelling
cp "$PS_TEST_SRCDIR/golden/reports/nnunet/summary_v1.json" "$T/s.json"
cp "$T/s.json" "$T/s_copy.json"
for cmd in summary describe; do
  "$PANSEVAL" $cmd "A=$T/s.json" -o "$T/s.json" >"$T/out" 2>"$T/err"
  check_status "$cmd -o equal to a MODEL=FILE input is refused" 2 $?
  check_contains "$cmd: the refusal names the file" "$T/err" "is the input file $T/s.json"
  "$PANSEVAL" $cmd "A=$T/./s.json" --format csv -o "$T/s.json" >"$T/out" 2>"$T/err"
  check_status "$cmd -o equal to MODEL=FILE under another spelling is refused" 2 $?
done
"$PANSEVAL" compare "A=$T/s_copy.json" "B=$T/s.json" -o "$T/s.json" >"$T/out" 2>"$T/err"
check_status "compare -o equal to the second MODEL=FILE input is refused" 2 $?
(cd "$T" && "$PANSEVAL" summary A=s.json -o s.json >"$T/out" 2>"$T/err")
check_status "a relative MODEL=FILE equal to -o is refused" 2 $?
check_same "the summary.json is untouched" "$T/s.json" "$T/s_copy.json"
echo old >"$T/ro.csv"; chmod 444 "$T/ro.csv"
"$PANSEVAL" metrics --ref "$R" --pred "$P" -o "$T/ro.csv" >"$T/out" 2>"$T/err"
check_status "a read-only output file is refused" 2 $?
check_contains "read-only is said" "$T/err" "read-only"
check_contains "the read-only file is kept" "$T/ro.csv" "old"
echo old >"$T/target.csv"; chmod 640 "$T/target.csv"
ln -sf "$T/target.csv" "$T/link.csv"
"$PANSEVAL" metrics --ref "$R" --pred "$P" -o "$T/link.csv" 2>"$T/err"
check_status "writing through a link exits 0" 0 $?
check_true "the link is still a link" test -L "$T/link.csv"
check_contains "the link's target got the table" "$T/target.csv" "case,model"
check_true "the target kept its mode 640" test "$(stat -c %a "$T/target.csv")" = 640
ln -sf "$T/nowhere.csv" "$T/dangling.csv"
"$PANSEVAL" metrics --ref "$R" --pred "$P" -o "$T/dangling.csv" >"$T/out" 2>"$T/err"
check_status "a link to a missing file is refused" 2 $?
"$PANSEVAL" metrics --help >"$T/h" 2>&1
check_contains "the overwrite policy is in --help" "$T/h" "keeps its mode; a symbolic link's target is"

# --- A6: the format follows the suffix of -o ------------------------------------------------------
"$PANSEVAL" metrics --ref "$R" --pred "$P" -o "$T/one.json" 2>"$T/err"
check_status "-o x.json exits 0" 0 $?
check_contains "-o x.json writes JSON" "$T/one.json" '{"case": '
"$PANSEVAL" metrics --ref "$R" --pred "$P" -o "$T/one.tsv" 2>"$T/err"
check_contains "-o x.tsv writes TSV" "$T/one.tsv" "$(printf 'case\tmodel')"
"$PANSEVAL" metrics --ref "$R" --pred "$P" -o "$T/one.md" 2>"$T/err"
check_contains "-o x.md writes Markdown" "$T/one.md" "| case | model |"
"$PANSEVAL" metrics --ref "$R" --pred "$P" -o "$T/one.tex" 2>"$T/err"
check_contains "-o x.tex writes LaTeX" "$T/one.tex" '\toprule'
"$PANSEVAL" metrics --ref "$R" --pred "$P" --format csv -o "$T/c.json" >"$T/out" 2>"$T/err"
check_status "--format csv with -o x.json is an error" 2 $?
check_contains "the conflict is explained" "$T/err" "contradicts the suffix"
check_true "nothing written on a conflict" test ! -e "$T/c.json"
"$PANSEVAL" metrics --ref "$R" --pred "$P" --format json -o "$T/agree.json" 2>"$T/err"
check_status "--format json with -o x.json is fine" 0 $?
printf 'case,model,label,status,dice\nc1,a,1,ok,0.8\nc2,a,1,ok,0.7\nc3,a,1,ok,0.9\nc1,b,1,ok,0.6\nc2,b,1,ok,0.65\nc3,b,1,ok,0.7\n' >"$T/two.csv"
"$PANSEVAL" compare "$T/two.csv" --metric dice --a a --b b -o "$T/cmp.md" >"$T/out" 2>"$T/err"
check_contains "compare -o x.md writes a Markdown table" "$T/cmp.md" "| metric |"
"$PANSEVAL" compare "$T/two.csv" --metric dice --a a --b b --format text -o "$T/cmp.csv" >"$T/out" 2>"$T/err"
check_status "compare --format text with -o x.csv is an error" 2 $?
"$PANSEVAL" metrics --ref "$R" --pred "$P" -o "$T/plain.out" 2>"$T/err"
check_contains "an unknown suffix keeps the default (csv)" "$T/plain.out" "case,model"

# --- A12: help CMD, one error line for a missing argument, each option once -----------------------
"$PANSEVAL" help metrics >"$T/h1" 2>&1; check_status "panseval help metrics exits 0" 0 $?
"$PANSEVAL" metrics --help >"$T/h2" 2>&1
check_same "help metrics is metrics --help" "$T/h1" "$T/h2"
"$PANSEVAL" help nosuch >"$T/out" 2>"$T/err"; check_status "help of an unknown command exits 2" 2 $?
for cmd in metrics summary compare volume describe kappa icc demo-data; do
  "$PANSEVAL" help "$cmd" >"$T/h" 2>&1
  n=$(grep -c -- '^ *--format FMT' "$T/h")
  check_true "$cmd --help lists --format at most once" test "$n" -le 1
  n=$(grep -c -- '^ *--seed S' "$T/h")
  check_true "$cmd --help lists --seed at most once" test "$n" -le 1
  n=$(grep -c -- '^ *-o, --output' "$T/h")
  check_true "$cmd --help lists -o at most once" test "$n" -le 1
done
"$PANSEVAL" help metrics >"$T/h" 2>&1
check_not_contains "metrics --help has no --seed (it does not use one)" "$T/h" "--seed"
"$PANSEVAL" metrics --ref "$R" --pred "$P" --seed 3 >"$T/out" 2>"$T/err"
check_status "metrics --seed is refused (does nothing there)" 2 $?
check_contains "--seed is named as unknown" "$T/err" "unknown option '--seed'"
for opt in --manifest --labels -o -j; do
  "$PANSEVAL" metrics $opt >"$T/out" 2>"$T/err"
  check_status "metrics $opt without its argument exits 2" 2 $?
  n=$(grep -c '^panseval' "$T/err")
  check_true "metrics $opt: exactly one error line" test "$n" -eq 1
  check_contains "metrics $opt: prefixed and named" "$T/err" "panseval metrics: option '$opt' needs an argument"
done
"$PANSEVAL" summary "$T/one.csv" --by >"$T/out" 2>"$T/err"
n=$(grep -c '^panseval' "$T/err")
check_true "summary --by without argument: one error line" test "$n" -eq 1
check_contains "summary: prefixed" "$T/err" "panseval summary: option '--by' needs an argument"
"$PANSEVAL" compare "$T/one.csv" --metric >"$T/out" 2>"$T/err"
n=$(grep -c '^panseval' "$T/err")
check_true "compare --metric without argument: one error line" test "$n" -eq 1
for c in "summary x --metrics" "compare x --a" "volume x --by" "describe x --metric" \
         "kappa x --raters" "icc x --raters" "demo-data --out" "forward --model" \
         "model-info --fold"; do
  # shellcheck disable=SC2086
  "$PANSEVAL" $c >"$T/out" 2>"$T/err"
  st=$?
  n=$(grep -c '^panseval' "$T/err")
  opt=${c##* }
  check_true "$c (no argument): exit 2 and one error line naming $opt" \
    test "$st" -eq 2 -a "$n" -eq 1
  check_contains "$c: the error is prefixed by the command" "$T/err" "needs an argument"
done
"$PANSEVAL" metrics --nosuch >"$T/out" 2>"$T/err"
check_contains "an unknown option is named" "$T/err" "panseval metrics: unknown option '--nosuch'"
n=$(grep -c '^panseval' "$T/err")
check_true "unknown option: one error line" test "$n" -eq 1

# --- A7: -q still prints errors and failed cases -----------------------------------------------------
printf 'case\tref\tpred:m\nc1\t%s\t%s\nc2\t%s\t%s/none.nii.gz\n' "$R" "$P" "$R" "$T" >"$T/m2.tsv"
"$PANSEVAL" metrics --manifest "$T/m2.tsv" -q -o "$T/q.csv" >"$T/out" 2>"$T/err"
check_status "-q with a failed case exits 1" 1 $?
check_contains "-q still names the failed case" "$T/err" "c2"
check_contains "-q still prints the count of failed cases" "$T/err" "1 of 2"

# --- A10: shortest round-trip numbers --------------------------------------------------------------
awk -F, 'NR > 1 { for (i = 1; i <= NF; i++) if ($i ~ /^-?[0-9.]+(e[-+][0-9]+)?$/) print $i }' \
  "$T/one.csv" >"$T/nums"
long=$(awk '{ s = $0; sub(/^-/, "", s); sub(/e.*/, "", s); gsub(/\./, "", s); sub(/^0+/, "", s);
             if (length(s) > 17) print }' "$T/nums" | head -n 1)
check_true "no number has more than 17 significant digits" test -z "$long"
check_not_contains "no %.17g tails like 00000000000001" "$T/one.csv" "0000000000001"

# --- -j beyond the CPUs the process may run on (as under mpirun's default binding): a warning --
if command -v taskset >/dev/null && taskset -c 0 true 2>/dev/null; then
  taskset -c 0 "$PANSEVAL" metrics --ref "$R" --pred "$P" -j 2 -o "$T/j.csv" >"$T/out" 2>"$T/err"
  check_status "-j 2 on one CPU still runs" 0 $?
  check_contains "-j 2 on one CPU: a warning with the count" "$T/err" "-j 2 asks for 2 threads, but this process may run on only 1 CPU"
  check_contains "the warning names mpirun's option" "$T/err" "mpirun --map-by slot:PE=2"
  taskset -c 0 "$PANSEVAL" metrics --ref "$R" --pred "$P" -j 1 -o "$T/j1.csv" >"$T/out" 2>"$T/err"
  check_not_contains "-j 1 on one CPU: no warning" "$T/err" "asks for"
  taskset -c 0 "$PANSEVAL" metrics --ref "$R" --pred "$P" -j 2 -q -o "$T/jq.csv" >"$T/out" 2>"$T/err"
  check_not_contains "-q silences the warning" "$T/err" "asks for"
  check_true "the same table with the warning" cmp -s "$T/j.csv" "$T/j1.csv"
fi

cli_done
