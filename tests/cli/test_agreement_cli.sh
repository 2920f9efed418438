#!/bin/sh
# test_agreement_cli.sh - `panseval agreement` and `panseval fuse` from the command line, on the
# golden multi-rater cases of tests/reference/agree_voxels_reference.py (values are checked in
# tests/agree/test_agree_golden.c; here: options, files, messages, exit statuses).
. "$PS_TEST_SRCDIR/cli/cli_lib.sh"
T="$PS_TEST_TMPDIR/cli_agreement"
rm -rf "$T"; mkdir -p "$T"
G="$PS_TEST_SRCDIR/golden/agree"
M="$G/manifest.tsv"

"$PANSEVAL" agreement --help > "$T/help" 2>&1
check_status "agreement --help exits 0" 0 $?
check_contains "help lists the output files" "$T/help" "summary.csv"
check_contains "help names the region choice" "$T/help" "union-box"
"$PANSEVAL" help fuse > "$T/help2" 2>&1
check_contains "panseval help fuse prints the manual" "$T/help2" "staple_raters.csv"

"$PANSEVAL" agreement --manifest "$M" 2>"$T/err"
check_status "missing --out-dir is a usage error" 2 $?
check_contains "usage error is prefixed" "$T/err" "panseval agreement:"

"$PANSEVAL" agreement --manifest "$M" --out-dir "$T/a" --region box 2>"$T/err"
check_status "bad --region is a usage error" 2 $?
check_contains "bad --region names the choices" "$T/err" "image or union-box"

"$PANSEVAL" agreement --manifest "$M" --out-dir "$T/a" --raters ref,Z 2>"$T/err"
check_status "unknown rater fails (argument error)" 2 $?
check_contains "unknown rater lists the raters" "$T/err" "raters are: ref, B, C, D, E"

"$PANSEVAL" agreement --manifest "$M" --out-dir "$T/a" --raters ref 2>"$T/err"
check_status "a single rater fails (argument error)" 2 $?
check_contains "a single rater gets a clear message" "$T/err" "at least two raters"

"$PANSEVAL" agreement --manifest "$M" --out-dir "$T/a" --region union-box --margin 2 \
    > "$T/out" 2>"$T/err"
check_status "agreement on the golden manifest exits 0" 0 $?
for f in pairs cases summary; do
  check_true "writes $f.csv" test -s "$T/a/$f.csv"
done
check_contains "text output has the Dice matrix" "$T/out" "mean pairwise Dice (rater x rater)"
check_contains "cases.csv counts the empty rater" "$T/a/cases.csv" "five_empty,,,,1,union-box,5,1,ok"
check_contains "pairs carry the region" "$T/a/pairs.csv" ",union-box,inter,ref,B,"
check_not_contains "no temporary files left" "$(ls -a "$T/a" > "$T/ls"; echo "$T/ls")" ".pairs.csv."

"$PANSEVAL" agreement --manifest "$M" --out-dir "$T/j" --format tsv -j 1 -q > /dev/null 2>&1
"$PANSEVAL" agreement --manifest "$M" --out-dir "$T/k" --format tsv -j 3 -q > /dev/null 2>&1
check_same "tables identical for -j1 and -j3" "$T/j/summary.tsv" "$T/k/summary.tsv"

"$PANSEVAL" fuse --help > "$T/help" 2>&1
check_status "fuse --help exits 0" 0 $?
check_contains "fuse help names the tie rule" "$T/help" "ties go to the lowest"
"$PANSEVAL" fuse --manifest "$M" --out-dir "$T/f" --method vote 2>"$T/err"
check_status "bad --method is a usage error" 2 $?
"$PANSEVAL" fuse --manifest "$M" --out-dir "$T/f" -o "$M" 2>"$T/err"
check_status "-o equal to the manifest is refused" 2 $?
"$PANSEVAL" fuse --manifest "$M" --out-dir "$T/f" -o "$T/fused.tsv" 2>"$T/err"
check_status "fuse exits 0" 0 $?
check_true "fuse writes the consensus" test -s "$T/f/two_labels.nii.gz"
check_contains "staple_raters.csv has the raters" "$T/f/staple_raters.csv" "five_empty,1,D,0,1,"
check_contains "the new manifest has rater:consensus" "$T/fused.tsv" "rater:consensus"
"$PANSEVAL" agreement --manifest "$T/fused.tsv" --raters ref,consensus --out-dir "$T/c" -q \
    > /dev/null 2>&1
check_status "the fused manifest works from another folder" 0 $?
cli_done
