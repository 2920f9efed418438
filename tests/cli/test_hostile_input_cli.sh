#!/bin/sh
# CLI tests of what a new user feeds the commands by mistake: the wrong kind of file given as
# a table or a manifest, and degenerate data. Every message must name the file and say what
# is wrong with it; a statistic that cannot be computed must not take the others with it.
set -u
. "$(dirname "$0")/cli_lib.sh"
T=$PS_TEST_TMPDIR/cli_hostile
rm -rf "$T"; mkdir -p "$T"
P=$PANSEVAL

# --- a binary file given as a table: named by what it is, not "line 2: 2 cells" ---------------
printf 'case,model,dice\nc1,A,0.5\n' >"$T/t.csv"
gzip -c "$T/t.csv" >"$T/t.csv.gz"
for c in "summary" "compare --metric dice --a A --b B" "describe --metric dice" "volume" \
         "kappa --raters model,dice" "icc --raters model,dice"; do
  set -- $c; cmd=$1; shift
  $P $cmd "$T/t.csv.gz" "$@" >"$T/out" 2>"$T/err"
  check_status "$cmd of a gzip file exits 1" 1 $?
  check_contains "$cmd names the gzip file and what it is" "$T/err" \
    "t.csv.gz: gzip-compressed data (a .nii.gz image?), not text; a table is a text (CSV, TSV or JSON) file"
done
# Excel's "Unicode Text" export is UTF-16 with a byte-order mark (ff fe)
printf '\377\376c\000a\000s\000e\000\n\000' >"$T/u16.csv"
$P summary "$T/u16.csv" >"$T/out" 2>"$T/err"
check_status "summary of UTF-16 text exits 1" 1 $?
check_contains "UTF-16 is named" "$T/err" "u16.csv: UTF-16 text (Excel's \"Unicode Text\"? save it as UTF-8 CSV)"
# a manifest that is really a .nii.gz
$P metrics --manifest "$T/t.csv.gz" >"$T/out" 2>"$T/err"
check_status "metrics --manifest of a gzip file exits 1" 1 $?
check_contains "the manifest error names the file and the kind" "$T/err" \
  "t.csv.gz: gzip-compressed data (a .nii.gz image?), not text; a manifest is a text (TSV) file"

# --- compare: an undefined t-test no longer blanks the Wilcoxon test of the same row --------
# Every difference is 0.5 (exact in binary): the t-test is undefined (SD 0), Wilcoxon is not.
# Hand: 5 tied ranks of 3, V = 15; normal approximation with ties (R's wilcox.test):
# var = 5*6*11/24 - (5^3 - 5)/48 = 13.75 - 2.5 = 11.25, z = (15 - 7.5 - 0.5)/sqrt(11.25)
# = 2.0869967789998, p = erfc(z/sqrt 2) = 0.036888425707050 (R 4: 0.0368884257070499).
printf 'case,model,dice\nc1,A,1\nc2,A,2\nc3,A,3\nc4,A,4\nc5,A,5\nc1,B,0.5\nc2,B,1.5\nc3,B,2.5\nc4,B,3.5\nc5,B,4.5\n' >"$T/eq.csv"
$P compare "$T/eq.csv" --metric dice --a A --b B --format csv >"$T/out" 2>"$T/err"
check_status "compare with an undefined t-test exits 1" 1 $?
check_contains "the t-test's reason is on stderr" "$T/err" "paired t-test undefined: all 5 differences are equal (0.5)"
got_v=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i } NR == 2 { print $c["wilcoxon_v"] }' "$T/out")
got_p=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i } NR == 2 { print $c["p_wilcoxon"] }' "$T/out")
got_t=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i } NR == 2 { print "[" $c["p_t"] "]" }' "$T/out")
check_status "Wilcoxon V is still reported" 15 "$got_v"
check_true "Wilcoxon p = 0.036888425707050 (hand)" awk -v g="$got_p" 'BEGIN { d = g - 0.036888425707050; exit !(g != "" && d < 1e-14 && d > -1e-14) }'
check_status "the t-test cells stay empty" "[]" "$got_t"

# --- describe pools the rows of every model of a group: it says so --------------------------
printf 'case,model,dice\nc1,A,0.9\nc2,A,0.8\nc1,B,0.5\nc2,B,0.4\n' >"$T/two.csv"
$P describe "$T/two.csv" --metric dice >"$T/out" 2>"$T/err"
check_status "describe of two models still runs" 0 $?
check_contains "describe warns that models are pooled" "$T/err" \
  "describe all rows: the rows of several models are pooled ('A', 'B', ...); add --by model, or choose one with --model"
$P describe "$T/two.csv" --metric dice --by model >"$T/out" 2>"$T/err"
check_not_contains "no warning with --by model" "$T/err" "pooled"
$P describe "$T/two.csv" --metric dice --model A >"$T/out" 2>"$T/err"
check_not_contains "no warning with --model A" "$T/err" "pooled"

cli_done
