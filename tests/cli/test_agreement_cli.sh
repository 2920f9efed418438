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

"$PANSEVAL" agreement --manifest "$M" --out-dir "$T/a" --margin -1 2>"$T/err"
check_status "a negative --margin is a usage error" 2 $?
check_contains "bad --margin names the option" "$T/err" "--margin"
"$PANSEVAL" fuse --manifest "$M" --out-dir "$T/f" --max-iter 1.5 2>"$T/err"
check_status "a fractional --max-iter is a usage error" 2 $?
check_contains "bad --max-iter names the option" "$T/err" "--max-iter"
"$PANSEVAL" agreement --manifest "$M" --out-dir "$T/a" --ref-name B 2>"$T/err"
check_status "--ref-name equal to a rater column is an argument error" 2 $?
check_contains "the clash is named (message read before the slots are freed)" "$T/err" \
    "rater name 'B' is used twice"
# --by any column (the reports grouping), the exclusion rule in the help, md/tex output
check_contains "help states the exclusion rule" "$T/help" "status error or missing never does"
printf 'case\tmodality\tmeta:scanner\tref\trater:B\trater:C\n' > "$T/by.tsv"
printf 'three\tCT\tS1\t%s\t%s\t%s\n' "$G/three_ref.nii.gz" "$G/three_B.nii.gz" "$G/three_C.nii.gz" >> "$T/by.tsv"
printf 'five\tMR\tS1\t%s\t%s\t%s\n' "$G/five_empty_ref.nii.gz" "$G/five_empty_B.nii.gz" "$G/five_empty_C.nii.gz" >> "$T/by.tsv"
"$PANSEVAL" agreement --manifest "$T/by.tsv" --out-dir "$T/by" --by modality -q
check_status "--by modality exits 0" 0 $?
check_contains "summary has a modality column" "$T/by/summary.csv" "modality,label,region,statistic"
check_contains "one group per modality (MR)" "$T/by/summary.csv" "MR,1,image,pair_dice,,,3,"
check_contains "one group per modality (CT)" "$T/by/summary.csv" "CT,1,image,pair_dice,,,3,"
check_contains "per-row tables end with the meta column" "$T/by/cases.csv" ",message,meta:scanner"
"$PANSEVAL" agreement --manifest "$T/by.tsv" --out-dir "$T/bym" --by meta:scanner -q
check_contains "--by meta:KEY groups both cases" "$T/bym/summary.csv" "S1,1,image,pair_dice,,,6,"
check_contains "the matrix by meta:KEY" "$T/bym/dice_matrix.csv" "meta:scanner,label,rater,ref,B,C"
"$PANSEVAL" agreement --manifest "$T/by.tsv" --out-dir "$T/byx" --by nosuch -q 2>"$T/err"
check_status "--by an unknown column is an argument error" 2 $?
check_contains "unknown --by names the column" "$T/err" "nosuch"
check_contains "unknown --by lists the case table's columns" "$T/err" "columns are: case, subject, modality, center, label, region, n_raters"
check_contains "unknown --by lists the meta columns too" "$T/err" "message, meta:scanner)"
[ ! -e "$T/byx/cases.csv" ] && [ ! -e "$T/byx/agreement.journal" ]
check_status "unknown --by is refused before the run (no table, no journal)" 0 $?
"$PANSEVAL" agreement --manifest "$T/by.tsv" --out-dir "$T/md" --format md -q
check_contains "summary.md is a Markdown table" "$T/md/summary.md" "| label | statistic |"
check_contains "dice_matrix.md is a Markdown table" "$T/md/dice_matrix.md" "| label | rater | ref | B | C |"
"$PANSEVAL" agreement --manifest "$T/by.tsv" --out-dir "$T/tex" --format tex -q
check_contains "summary.tex is a booktabs tabular" "$T/tex/summary.tex" "\\toprule"
check_contains "pairs.tex too" "$T/tex/pairs.tex" "\\toprule"
# the five case's rater pairs all have HD95; pair_hd95's n counts the finite values only
"$PANSEVAL" agreement --manifest "$G/manifest.tsv" --out-dir "$T/ex" -q
check_contains "an empty mask's infinite or NaN HD95 is counted as excluded" "$T/ex/summary.csv" "1,image,pair_hd95,,,15,4,"

# README's example: --raters ref,B,C with --ref-name A; "ref" still names the ref column,
# which is rater A (session 1) in every table; A itself works too, and gives the same pairs
"$PANSEVAL" demo-data --out "$T/demo" --seed 1 -q >/dev/null 2>&1
"$PANSEVAL" agreement --manifest "$T/demo/manifest.tsv" --out-dir "$T/readme" --raters ref,B,C \
    --ref-name A --sessions -q 2>"$T/err"
check_status "README example (--raters ref,B,C --ref-name A) exits 0" 0 $?
check_contains "ref is reported as rater A" "$T/readme/pairs.csv" "ct01,ct-sub01,CT,site1,1,image,inter,A,B,ok,"
check_not_contains "no rater named ref" "$T/readme/pairs.csv" ",ref,"
check_contains "A's second session against ref = A" "$T/readme/sessions.csv" ",A,1,2,ok,"
"$PANSEVAL" agreement --manifest "$T/demo/manifest.tsv" --out-dir "$T/readme2" --raters A,B,C \
    --ref-name A --sessions -q 2>"$T/err"
check_same "--raters A,B,C gives the same pairs" "$T/readme/pairs.csv" "$T/readme2/pairs.csv"
"$PANSEVAL" agreement --manifest "$T/demo/manifest.tsv" --out-dir "$T/readme3" --raters ref,D \
    --ref-name A -q 2>"$T/err"
check_status "an unknown rater is still a usage error" 2 $?
check_contains "the unknown rater is named" "$T/err" "no rater 'D'"

# SIGINT / SIGTERM: no new case is taken, the finished cases are kept as complete tables
# (as `metrics`), no hidden temporary is left, exit 128 + signal. The demo cases 40 times over
# (960 cases, several seconds of work even on a fast machine; the signal comes after 3 s).
# --foreground: timeout signals the command only once (without it the process group gets a
# second signal, and the second signal ends the process at once, by design, as in metrics).
awk -F'\t' 'BEGIN { OFS = "\t" } /^#/ { print; next } !h { h = 1; print; next }
  { id = $1; for (r = 1; r <= 40; r++) { $1 = id "_r" r; print } }' "$T/demo/manifest.tsv" \
  >"$T/demo/rep.tsv"
timeout --foreground --preserve-status -s INT 3 "$PANSEVAL" agreement --manifest "$T/demo/rep.tsv" --out-dir "$T/int" \
    --ref-name A --sessions -q >/dev/null 2>"$T/err"
check_status "agreement: SIGINT exits 130" 130 $?
check_contains "agreement: says what was kept" "$T/err" "interrupted (SIGINT): kept the"
check_status "agreement: no hidden temporaries" 0 "$(find "$T/int" -name '.*' | wc -l | tr -d ' ')"
kept=$(sed -n 's/.*kept the \([0-9]*\) of 960.*/\1/p' "$T/err")
check_true "agreement: stopped early ($kept of 960 cases)" test "${kept:-0}" -gt 0 -a "${kept:-960}" -lt 960
check_status "cases.csv: the kept cases" "$kept" "$(($(wc -l <"$T/int/cases.csv") - 1))"
check_status "pairs.csv: 3 pairs per kept case" "$((3 * kept))" "$(($(wc -l <"$T/int/pairs.csv") - 1))"
check_status "sessions.csv: 2 sessions per kept case" "$((2 * kept))" \
  "$(($(wc -l <"$T/int/sessions.csv") - 1))"
check_status "summary.csv: the aggregates of the kept cases" "$kept" \
  "$(awk -F, '$3 == "mean_pairwise_dice" { print $6 }' "$T/int/summary.csv")"
timeout --foreground --preserve-status -s TERM 3 "$PANSEVAL" fuse --manifest "$T/demo/rep.tsv" --out-dir "$T/term" --ref-name A \
    --method staple -o "$T/term.tsv" -q >/dev/null 2>"$T/err"
check_status "fuse: SIGTERM exits 143" 143 $?
check_contains "fuse: says what was kept" "$T/err" "interrupted (SIGTERM): kept the"
check_status "fuse: no hidden temporaries" 0 "$(find "$T/term" "$T" -maxdepth 1 -name '.*' | wc -l | tr -d ' ')"
kept=$(sed -n 's/.*kept the \([0-9]*\) of 960.*/\1/p' "$T/err")
check_true "fuse: stopped early ($kept of 960 cases)" test "${kept:-0}" -gt 0 -a "${kept:-960}" -lt 960
check_status "fuse: a consensus file per kept case" "$kept" "$(ls "$T/term" | grep -c '\.nii\.gz$')"
check_status "fuse: the -o manifest names them" "$kept" \
  "$(awk -F'\t' '/^#/ { next } !h { h = 1; next } $NF != "" { n++ } END { print n + 0 }' "$T/term.tsv")"
check_status "fuse: staple_raters.csv covers the kept cases" "$kept" \
  "$(awk -F, 'NR > 1 { print $1 }' "$T/term/staple_raters.csv" | sort -u | wc -l | tr -d ' ')"
"$PANSEVAL" agreement --manifest "$T/term.tsv" --raters A,consensus --ref-name A --out-dir "$T/tc" \
    -q >/dev/null 2>&1
check_status "fuse: the interrupted -o manifest is usable" 0 $?

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
