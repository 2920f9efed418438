#!/bin/sh
# CLI tests of what a new user feeds the commands by mistake: the wrong kind of file given as
# a table or a manifest, and the README's own examples. Every message must name the file and
# say what is wrong with it.
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

cli_done
