#!/bin/sh
# CLI tests of the per-case table and the evaluation driver (issue 12 A2, A5, A9, A13, A16,
# A18, B folder mode): missing predictions, subject and meta columns, the provenance sidecar,
# streaming and SIGINT, progress counts, folder pairing. Expected facts: the documented
# behaviour (src/eval/ps_eval.h, docs/metrics.md); numbers are compared with the same
# evaluation run another way (a file pair), which the golden tests check.
set -u
. "$(dirname "$0")/cli_lib.sh"
T=$PS_TEST_TMPDIR/cli_eval
rm -rf "$T"; mkdir -p "$T"
G=$PS_TEST_SRCDIR/golden/metrics

"$PANSEVAL" demo-data --out "$T/demo" --seed 3 -q 2>"$T/err"
check_status "demo-data exits 0" 0 $?
M=$T/demo/manifest.tsv

# --- A18: an empty pred: cell is status=missing, counted, exit 0 ---------------------------------
awk -F'\t' 'BEGIN { OFS = "\t" } /^#/ { print; next }
  !h { h = 1; for (i = 1; i <= NF; i++) if ($i == "pred:modelB") c = i; print "meta:site_note", $0; next }
  { n++; if (n == 2) $c = ""; print "note" n, $0 }' "$M" >"$T/demo/gap.tsv"
"$PANSEVAL" metrics --manifest "$T/demo/gap.tsv" -o "$T/gap.csv" 2>"$T/err"
check_status "an empty pred: cell is not an error (exit 0)" 0 $?
check_contains "the empty cell is a missing row" "$T/gap.csv" ",modelB,ct-sub02,CT,site"
n=$(grep -c ',missing,' "$T/gap.csv")
check_true "exactly one missing row" test "$n" -eq 1
check_contains "the missing row says why" "$T/gap.csv" "no prediction of 'modelB' listed for this case"
check_contains "missing rows are counted on stderr" "$T/err" "1 evaluation(s) without a prediction"
"$PANSEVAL" metrics --manifest "$T/demo/gap.tsv" --labels 1,2 -o "$T/gap12.csv" 2>"$T/err"
n=$(grep -c ',missing,' "$T/gap12.csv")
check_true "with --labels 1,2: one missing row per label" test "$n" -eq 2
"$PANSEVAL" metrics --manifest "$T/demo/gap.tsv" -j 1 -o "$T/gap_j1.csv" 2>"$T/err"
"$PANSEVAL" metrics --manifest "$T/demo/gap.tsv" -j 3 -o "$T/gap_j3.csv" 2>"$T/err"
check_same "missing rows: the same table for -j 1 and -j 3" "$T/gap_j1.csv" "$T/gap_j3.csv"
"$PANSEVAL" summary "$T/gap.csv" --by model --format csv -o "$T/gap_sum.csv" 2>"$T/err"
check_status "summary reads a table with missing rows" 0 $?

# --- A5: subject and meta:KEY columns; --by subject / meta:KEY --------------------------------
head -n 1 "$T/gap.csv" >"$T/h"
check_contains "subject column after model" "$T/h" "case,model,subject,modality,center,label,status,geometry,"
check_contains "meta columns at the end" "$T/h" ",message,meta:site_note"
check_contains "the meta value is in the rows" "$T/gap.csv" ",note1"
"$PANSEVAL" summary "$T/gap.csv" --by subject --format csv -o "$T/by_subject.csv" 2>"$T/err"
check_status "summary --by subject works" 0 $?
check_contains "a group per subject" "$T/by_subject.csv" "ct-sub01"
"$PANSEVAL" summary "$T/gap.csv" --by meta:site_note --format csv -o "$T/by_meta.csv" 2>"$T/err"
check_status "summary --by meta:KEY works" 0 $?
check_contains "a group per meta value" "$T/by_meta.csv" "note3"

# --- provenance sidecar -------------------------------------------------------------------------
S=$T/gap.csv.meta.json
check_true "FILE.meta.json is written beside -o" test -s "$S"
check_contains "sidecar: version" "$S" '"panseval_version": '
check_contains "sidecar: HD95 convention" "$S" '"hd95": "medpy"'
check_contains "sidecar: percentile" "$S" '"percentile": 95'
check_contains "sidecar: NSD tolerance" "$S" '"nsd_tol_mm": 2'
check_contains "sidecar: empty policy" "$S" '"empty": "nan"'
check_contains "sidecar: geometry policy" "$S" '"geometry": "strict"'
check_contains "sidecar: ref paths" "$S" "/labels/ref/ct01.nii.gz"
check_contains "sidecar: pred paths" "$S" "/preds/modelA/ct01.nii.gz"
check_contains "sidecar: a missing pred is null" "$S" '"pred": null'
check_contains "sidecar: the run was complete" "$S" '"complete": true'
check_not_contains "the CSV has no comment lines (pandas/R read it as is)" "$T/gap.csv" "#"
"$PANSEVAL" metrics --manifest "$M" --hd95 monai --percentile 90 -o "$T/p90.json" 2>"$T/err"
check_contains "sidecar of a JSON table records --hd95" "$T/p90.json.meta.json" '"hd95": "monai"'
check_contains "sidecar records --percentile" "$T/p90.json.meta.json" '"percentile": 90'

# --- A16: a label listed twice ---------------------------------------------------------------------
"$PANSEVAL" metrics --manifest "$M" --labels 1,1 -o "$T/dup.csv" >"$T/out" 2>"$T/err"
check_status "--labels 1,1 is a usage error" 2 $?
check_contains "the duplicate is named" "$T/err" "label 1 is listed twice"

# --- A13: progress counts cases, evaluations given separately ----------------------------------------
"$PANSEVAL" metrics --manifest "$M" --progress -j 1 -o "$T/prog.csv" 2>"$T/err"
ncases=$(grep -vc '^#' "$M"); ncases=$((ncases - 1))
check_contains "progress counts cases" "$T/err" "$ncases/$ncases cases"
check_contains "progress names the evaluations" "$T/err" "($((2 * ncases)) evaluations)"

# --- A9: geometry: a prediction whose header disagrees on the same grid --------------------------------
# demo references of two centers differ in spacing; a pair with equal dims is made by the unit
# test (tests/eval); here the option handling and the strict default
"$PANSEVAL" metrics --ref "$G/case_00_ref.nii.gz" --pred "$G/case_00_pred.nii.gz" --geometry nope >"$T/out" 2>"$T/err"
check_status "--geometry nope is a usage error" 2 $?
check_contains "--geometry names its values" "$T/err" "strict or ref-grid"
"$PANSEVAL" metrics --ref "$G/case_00_ref.nii.gz" --pred "$G/case_00_pred.nii.gz" -o "$T/geo.csv" 2>"$T/err"
check_contains "a matching grid has geometry=ok" "$T/geo.csv" ",ok,"

# --- folder mode (nnU-Net evaluate_folder pairing) ------------------------------------------------------
mkdir -p "$T/refs" "$T/preds"
cp "$G/case_00_ref.nii.gz" "$T/refs/a.nii.gz"; cp "$G/case_00_pred.nii.gz" "$T/preds/a.nii.gz"
cp "$G/case_01_ref.nii.gz" "$T/refs/b.nii.gz"; cp "$G/case_01_pred.nii.gz" "$T/preds/b.nii.gz"
cp "$G/case_02_ref.nii.gz" "$T/refs/c.nii.gz"                       # no prediction
cp "$G/case_03_pred.nii.gz" "$T/preds/extra.nii.gz"                  # no reference
cp "$G/case_00_pred.nii.gz" "$T/preds/._a.nii.gz"                    # AppleDouble: skipped
echo text >"$T/refs/readme.txt"
"$PANSEVAL" metrics --ref "$T/refs" --pred "$T/preds" --name nn -o "$T/folder.csv" 2>"$T/err"
check_status "folder mode exits 0" 0 $?
check_contains "a file without a prediction: missing row" "$T/folder.csv" "c,nn,,,,,missing,"
check_contains "a prediction without a reference is listed" "$T/err" "extra.nii.gz: no reference of this name"
check_not_contains "AppleDouble files are skipped" "$T/err" "._a"
n=$(grep -c '^a,nn,' "$T/folder.csv"); check_true "case a evaluated" test "$n" -ge 1
"$PANSEVAL" metrics --ref "$G/case_00_ref.nii.gz" --pred "$G/case_00_pred.nii.gz" --case a --name nn -o "$T/pair.csv" 2>"$T/err"
grep '^a,' "$T/folder.csv" >"$T/fa"; grep '^a,' "$T/pair.csv" >"$T/pa"
check_same "folder mode gives the numbers of the file pair" "$T/fa" "$T/pa"
"$PANSEVAL" metrics --ref "$T/refs" --pred "$T/preds" --name nn -j 3 -o "$T/folder_j3.csv" 2>"$T/err"
check_same "folder mode: the same table for -j 3" "$T/folder.csv" "$T/folder_j3.csv"
"$PANSEVAL" metrics --ref "$T/refs" --pred "$G/case_00_pred.nii.gz" >"$T/out" 2>"$T/err"
check_status "a folder with a file is a usage error" 2 $?

# --- A2: rows stream out; SIGINT keeps the finished prefix as a complete table ----------------------------
awk -F'\t' 'BEGIN { OFS = "\t" } /^#/ { next } !h { h = 1; print; next } { rows[++n] = $0 }
  END { for (k = 1; k <= 40; k++) for (i = 1; i <= n; i++) { r = rows[i]; sub(/\t/, "_" k "\t", r); print r } }' \
  "$M" >"$T/demo/big.tsv"
total=$(($(wc -l <"$T/demo/big.tsv") - 1))
"$PANSEVAL" metrics --manifest "$T/demo/big.tsv" -j 1 -o "$T/big.csv" 2>"$T/big.err" &
pid=$!
# out_fd PID NAME: the output being written, the process's descriptor of its temporary in
# $T: unnamed (O_TMPFILE: "$T/#INODE (deleted)") or, without O_TMPFILE, .NAME.XXXXXX
out_fd() {
  for fd in /proc/"$1"/fd/*; do
    case "$(readlink "$fd" 2>/dev/null)" in "$T/#"*|"$T/.$2."*) echo "$fd"; return ;; esac
  done
}
streamed=0 named=0
i=0
while [ $i -lt 300 ]; do
  fd=$(out_fd "$pid" big.csv)
  if [ -n "$fd" ] && [ "$(wc -l <"$fd")" -ge 4 ]; then
    streamed=1
    ls -a "$T" | grep -q '^\.big\.csv\.' && named=1
    break
  fi
  sleep 0.1; i=$((i + 1))
done
check_true "rows reach the (temporary) output while the run goes on" test "$streamed" -eq 1
check_true "the temporary output has no name while it is written (O_TMPFILE)" test "$named" -eq 0
kill -INT "$pid"
wait "$pid"; st=$?
check_status "SIGINT: exit status 130" 130 "$st"
check_contains "SIGINT: says what was kept" "$T/big.err" "interrupted (SIGINT): kept the"
check_true "SIGINT: the output file exists" test -s "$T/big.csv"
kept=$(($(wc -l <"$T/big.csv") - 1))
check_true "SIGINT: some rows kept, not all" test "$kept" -ge 3 -a "$kept" -lt $((2 * total))
check_true "SIGINT: no temporary file left" test -z "$(ls "$T"/.big.csv.* 2>/dev/null)"
# SIGKILL (no handler runs) in the middle of the run: no file, no temporary left behind
"$PANSEVAL" metrics --manifest "$T/demo/big.tsv" -j 1 -o "$T/killed.csv" 2>/dev/null &
pid=$!
i=0
while [ $i -lt 300 ] && [ -z "$(out_fd "$pid" killed.csv)" ]; do sleep 0.05; i=$((i + 1)); done
sleep 0.3
kill -KILL "$pid"; wait "$pid"; st=$?
check_status "SIGKILL mid-run: exit status 137" 137 "$st"
check_true "SIGKILL mid-run: no output and no temporary file left" \
  test -z "$(ls -a "$T" | grep -e '^killed\.csv$' -e '^\.killed\.csv')"
check_true "SIGKILL mid-run: the journal is kept for --resume" test -s "$T/killed.csv.journal"
# the kept rows are the first rows of a full run, in order (a prefix)
"$PANSEVAL" metrics --manifest "$M" -j 2 -o "$T/small.csv" 2>"$T/err"
head -n 3 "$T/big.csv" | tail -n 2 | sed 's/^\([a-z0-9]*\)_1,/\1,/' >"$T/big_head"
head -n 3 "$T/small.csv" | tail -n 2 >"$T/small_head"
check_same "the kept rows are the plan's first rows" "$T/big_head" "$T/small_head"
check_contains "SIGINT: the sidecar says the table is incomplete" "$T/big.csv.meta.json" '"complete": false'

cli_done
