#!/bin/sh
# CLI tests of `panseval infer` on the ct_unet fixture of tests/golden/infer_pipeline (inputs
# and nnU-Net v1's own label map, from tests/reference/nnunet_predict_reference.py): the
# single-case form (Dice against nnU-Net's label map with `panseval metrics`; the voxel-wise
# and geometry checks are in test_infer_pipeline.c), exit codes and messages, nothing written
# on failure, and the manifest form.
: "${PANSEVAL:?}" "${PS_TEST_SRCDIR:?}" "${PS_TEST_TMPDIR:?}"
G="$PS_TEST_SRCDIR/golden/infer_pipeline/ct_unet"
T="$PS_TEST_TMPDIR/infer_cli"
rm -rf "$T"
mkdir -p "$T"
checks=0 failures=0
pass() { checks=$((checks + 1)); echo "ok - $1"; }
fail() { checks=$((checks + 1)); failures=$((failures + 1)); echo "FAIL - $1: $2"; }
check_status() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "status $3, expected $2"; fi; }
check_contains() {
  if grep -qF -- "$3" "$2"; then pass "$1"; else fail "$1" "'$3' not in $(head -c 800 "$2")"; fi
}
check_file() { if [ -s "$2" ]; then pass "$1"; else fail "$1" "$2 missing"; fi; }
check_nofile() { if [ -e "$2" ]; then fail "$1" "$2 exists"; else pass "$1"; fi; }

# single case, with probabilities
"$PANSEVAL" infer --model "$G/model" --input "$G/CASE_0000.nii.gz" -o "$T/seg.nii.gz" \
  --probabilities "$T/prob.nii.gz" -j 2 -v 2>"$T/one.err"
check_status "single exit" 0 $?
check_file "single seg" "$T/seg.nii.gz"
check_file "single prob" "$T/prob.nii.gz"
check_contains "single timing" "$T/one.err" "network passes"
# the label map against nnU-Net's with the project's own metrics: Dice 1 for class 1
"$PANSEVAL" metrics --ref "$G/seg.nii.gz" --pred "$T/seg.nii.gz" --format tsv -o "$T/cmp.out" \
  2>"$T/cmp.err"
check_status "metrics on the result" 0 $?
dice=$(awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "dice") c = i; next }
                   { print $c; exit }' "$T/cmp.out")
if awk -v d="$dice" 'BEGIN { exit !(d >= 0.999) }'; then pass "dice vs nnU-Net ($dice)"
else fail "dice vs nnU-Net" "$dice"; fi

# usage and input errors
"$PANSEVAL" infer --model "$G/model" -o "$T/x.nii.gz" 2>"$T/e1"
check_status "no input" 2 $?
"$PANSEVAL" infer --model "$G/model" --input "$G/CASE_0000.nii.gz" --input "$G/CASE_0000.nii.gz" \
  -o "$T/x.nii.gz" 2>"$T/e2"
check_status "two inputs for one modality" 1 $?
check_contains "two inputs message" "$T/e2" "the model has 1 modality"
check_nofile "nothing written" "$T/x.nii.gz"
"$PANSEVAL" infer --model "$T/nomodel" --input "$G/CASE_0000.nii.gz" -o "$T/x.nii.gz" 2>"$T/e3"
check_status "missing model folder" 1 $?
"$PANSEVAL" infer --model "$G/model" --input "$G/CASE_0000.nii.gz" -o "$T/x.nii.gz" --fold 0,x \
  2>"$T/e4"
check_status "bad fold list" 2 $?
"$PANSEVAL" infer --model "$G/model" --input "$G/CASE_0000.nii.gz" -o "$T/x.nii.gz" --step 1.5 \
  2>"$T/e5"
check_status "bad step" 2 $?
"$PANSEVAL" infer --help >"$T/help" 2>&1
check_status "help" 0 $?
check_contains "help manifest" "$T/help" "--manifest FILE"

# manifest form: one good case, one with a missing image, one without image
printf 'case\tmodality\timage\nA\tCT\t%s\nB\tCT\t%s\nC\tCT\t\n' "$G/CASE_0000.nii.gz" \
  "$T/missing.nii.gz" >"$T/m.tsv"
"$PANSEVAL" infer --model "$G/model" --manifest "$T/m.tsv" --name ps --out-dir "$T/out" \
  -o "$T/m2.tsv" 2>"$T/m.err"
check_status "manifest with a failing case" 1 $?
check_file "case A written" "$T/out/A.nii.gz"
check_nofile "case B not written" "$T/out/B.nii.gz"
check_contains "case B reported" "$T/m.err" "case 'B'"
check_contains "summary" "$T/m.err" "1 case(s) predicted, 0 skipped (output exists), 1 failed, 1 without an image"
check_contains "copy has pred:ps" "$T/m2.tsv" "case	modality	image	pred:ps"
check_contains "copy row A" "$T/m2.tsv" "$T/out/A.nii.gz"
if cmp -s "$T/out/A.nii.gz" "$T/seg.nii.gz"; then pass "manifest case = single case"
else fail "manifest case = single case" "files differ"; fi
touch -d '2000-01-01' "$T/out/A.nii.gz"
"$PANSEVAL" infer --model "$G/model" --manifest "$T/m.tsv" --name ps --out-dir "$T/out" 2>"$T/m3.err"
check_status "second run" 1 $?
check_contains "skipped" "$T/m3.err" "0 case(s) predicted, 1 skipped"
"$PANSEVAL" infer --model "$G/model" --manifest "$T/m.tsv" --name ps --out-dir "$T/out" --force \
  2>"$T/m4.err"
check_contains "forced" "$T/m4.err" "1 case(s) predicted, 0 skipped"
# image:N columns: the second modality of a one-modality model is not needed
printf 'case\timage\timage:1\nA\t%s\t%s\n' "$G/CASE_0000.nii.gz" "$G/CASE_0000.nii.gz" >"$T/m5.tsv"
"$PANSEVAL" infer --model "$G/model" --manifest "$T/m5.tsv" --name ps --out-dir "$T/out5" \
  -o "$T/m5b.tsv" 2>"$T/m5.err"
check_status "image:1 column" 0 $?
check_contains "image:1 kept in the copy" "$T/m5b.tsv" "case	image	image:1	pred:ps"
printf 'case\timage\timage:0\nA\tx\ty\n' >"$T/m6.tsv"
"$PANSEVAL" infer --model "$G/model" --manifest "$T/m6.tsv" --name ps --out-dir "$T/out6" \
  2>"$T/m6.err"
check_status "image:0 refused" 1 $?
check_contains "image:0 message" "$T/m6.err" "expected image:N with N from 1 to 7"

pct=100
[ "$checks" -gt 0 ] && pct=$(( (checks - failures) * 100 / checks ))
echo "${pct}%: Checks: $checks, Failures: $failures, Errors: 0"
[ "$failures" -eq 0 ]
