#!/bin/sh
# CLI tests of `panseval manifest`: a small synthetic folder of every layout (empty files: the
# command names files, it does not read them) and the exact manifest text it must give, by
# the rules of data-manifests/README.md ("Writing a manifest from a dataset folder"); then the
# error cases. The end-to-end check at the bottom runs `panseval metrics` on a manifest written
# for an nnU-Net v2 copy of the demo data and compares it with the demo's own manifest.
set -u
. "$(dirname "$0")/cli_lib.sh"
T=$PS_TEST_TMPDIR/cli_manifest
rm -rf "$T"; mkdir -p "$T"
cd "$T" || exit 1
tab=$(printf '\t')
# row CELL... : one manifest line, cells joined by tabs
row() { old=$IFS; IFS=$tab; printf '%s\n' "$*"; IFS=$old; }
mk() { for f in "$@"; do mkdir -p "$(dirname "$f")"; : >"$f"; done; }

# --- nnU-Net v1: two channels, imagesTs, an AppleDouble file, a prediction folder ------------
mk v1/imagesTr/pro_001_0000.nii.gz v1/imagesTr/pro_001_0001.nii.gz \
   v1/imagesTr/pro_002_0000.nii.gz v1/imagesTr/pro_002_0001.nii.gz \
   v1/labelsTr/pro_001.nii.gz v1/labelsTr/pro_002.nii.gz \
   v1/imagesTs/pro_010_0000.nii.gz v1/imagesTs/pro_010_0001.nii.gz \
   v1/imagesTr/._pro_001_0000.nii.gz \
   pv1/pro_002.nii.gz pv1/pro_010.nii.gz pv1/pro_999.nii.gz pv1/plans.pkl
printf '{"name": "Prostate", "modality": {"0": "T2", "1": "ADC"},\n "labels": {"0": "background", "1": "PZ"},\n "numTraining": 2, "training": [], "test": []}\n' >v1/dataset.json
"$PANSEVAL" manifest v1 -o v1/manifest.tsv --pred unet=pv1 2>v1.err
check_status "v1 exits 0" 0 $?
{
  echo "# written by panseval manifest from v1 (layout nnunet-v1)"
  row case modality image image:1 ref pred:unet meta:split
  row pro_001 T2+ADC imagesTr/pro_001_0000.nii.gz imagesTr/pro_001_0001.nii.gz labelsTr/pro_001.nii.gz "" train
  row pro_002 T2+ADC imagesTr/pro_002_0000.nii.gz imagesTr/pro_002_0001.nii.gz labelsTr/pro_002.nii.gz ../pv1/pro_002.nii.gz train
  row pro_010 T2+ADC imagesTs/pro_010_0000.nii.gz imagesTs/pro_010_0001.nii.gz "" ../pv1/pro_010.nii.gz test
} >v1.want
check_same "v1 manifest text" v1.want v1/manifest.tsv
check_contains "v1 lists the unmatched prediction" v1.err "pred:unet: pv1/pro_999.nii.gz matches no case"
check_contains "v1 counts cases without a prediction" v1.err "pred:unet: no prediction for 1 of 3 cases"
check_contains "v1 counts the AppleDouble file" v1.err "skipped 1 AppleDouble file (._NAME)"
check_contains "v1 summary line" v1.err "3 cases, layout nnunet-v1"
check_not_contains "non-NIfTI files of a prediction folder are ignored" v1.err "plans.pkl"
"$PANSEVAL" manifest v1 -q --pred unet=pv1 >v1.stdout 2>v1q.err
check_status "v1 to stdout exits 0" 0 $?
check_true "-q prints no notes" test ! -s v1q.err
abs=$(cd v1 && pwd -P)
check_contains "stdout gets absolute paths" v1.stdout "$abs/imagesTr/pro_001_0001.nii.gz"
mkdir -p out/deeper
"$PANSEVAL" manifest v1 -q -o out/deeper/m.tsv
check_contains "paths relative to the manifest's folder" out/deeper/m.tsv \
  "pro_001${tab}T2+ADC${tab}../../v1/imagesTr/pro_001_0000.nii.gz"
"$PANSEVAL" manifest v1 -q --absolute -o out/abs.tsv
check_contains "--absolute with -o" out/abs.tsv "$abs/labelsTr/pro_002.nii.gz"
"$PANSEVAL" manifest v1 -q --modality MR --center site9 -o out/mc.tsv
check_contains "--modality and --center fill every row" out/mc.tsv \
  "pro_010${tab}MR${tab}site9${tab}../v1/imagesTs/"

# --- nnU-Net v1: problems listed together --------------------------------------------------
mk v1bad/imagesTr/a_0000.nii.gz v1bad/imagesTr/b_0000.nii.gz v1bad/imagesTr/b_0002.nii.gz \
   v1bad/imagesTr/c_0000.nii.gz v1bad/imagesTs/c_0000.nii.gz v1bad/imagesTr/d.nii.gz
printf '{"modality": {"0": "T2", "1": "ADC"}}' >v1bad/dataset.json
"$PANSEVAL" manifest v1bad --layout nnunet-v1 -o v1bad.tsv 2>v1bad.err
check_status "v1 with missing channels fails" 1 $?
check_true "nothing written on failure" test ! -e v1bad.tsv
check_contains "problem count" v1bad.err "v1bad (layout nnunet-v1): 6 problems:"
check_contains "missing channel named" v1bad.err "case 'a' (train): channel 0001 is missing"
check_contains "channel beyond dataset.json" v1bad.err "imagesTr/b_0002.nii.gz: channel 2, but dataset.json names 2 channels"
check_contains "file without a channel suffix" v1bad.err "imagesTr/d.nii.gz: no channel suffix _XXXX"
check_contains "case in imagesTr and imagesTs" v1bad.err "case 'c' is in imagesTr and in imagesTs"

# --- nnU-Net v2 --------------------------------------------------------------------------------
mk v2/imagesTr/pan_0000.nii v2/imagesTr/pan_0007_0000.nii v2/labelsTr/pan.nii \
   v2/labelsTr/pan_0007.nii v2/labelsTr/orphan.nii v2/imagesTr/notes.txt
printf '{"channel_names": {"0": "CT"}, "labels": {"background": 0, "pancreas": 1},\n "numTraining": 2, "file_ending": ".nii"}\n' >v2/dataset.json
"$PANSEVAL" manifest v2 -o v2/m.tsv 2>v2.err
check_status "v2 exits 0" 0 $?
{
  echo "# written by panseval manifest from v2 (layout nnunet-v2)"
  row case modality image ref meta:split
  row pan CT imagesTr/pan_0000.nii labelsTr/pan.nii train
  row pan_0007 CT imagesTr/pan_0007_0000.nii labelsTr/pan_0007.nii train
} >v2.want
check_same "v2 manifest text (file_ending .nii; a case id may end in digits)" v2.want v2/m.tsv
check_contains "v2 label without an image" v2.err "labelsTr/orphan.nii: label without an image, ignored"
check_contains "v2 other files are named" v2.err "imagesTr/notes.txt: not a '.nii' file, ignored"
printf '{"channel_names": {"0": "CT"}, "labels": {}, "file_ending": ".mha"}' >v2/dataset.json
"$PANSEVAL" manifest v2 -o v2/m2.tsv 2>v2mha.err
check_status "v2 with .mha fails" 1 $?
check_contains "v2 .mha is named unsupported" v2mha.err 'file_ending ".mha": panseval reads NIfTI only'
printf '{"channel_names": {"0": "CT"}, "labels": {}, "file_ending": ".nii",}' >v2/dataset.json
"$PANSEVAL" manifest v2 -o v2/m3.tsv 2>v2json.err
check_status "malformed dataset.json fails" 1 $?
check_contains "JSON error has line and column" v2json.err "v2/dataset.json:1:68: expected a member name in double quotes"
printf '{"channel_names": {"1": "CT"}, "file_ending": ".nii"}' >v2/dataset.json
"$PANSEVAL" manifest v2 -o v2/m4.tsv 2>v2ch.err
check_status "bad channel keys fail" 1 $?
check_contains "bad channel keys named" v2ch.err 'channel keys must be "0" .. "0", each once (found "1")'

# --- Medical Segmentation Decathlon -------------------------------------------------------------
mk Task07_Pancreas/imagesTr/pancreas_001.nii.gz Task07_Pancreas/imagesTr/pancreas_004.nii.gz \
   Task07_Pancreas/imagesTr/._pancreas_001.nii.gz Task07_Pancreas/labelsTr/pancreas_001.nii.gz \
   Task07_Pancreas/labelsTr/pancreas_004.nii.gz Task07_Pancreas/labelsTr/._pancreas_004.nii.gz \
   Task07_Pancreas/imagesTs/pancreas_002.nii.gz Task07_Pancreas/._dataset.json
printf '{"name": "Pancreas", "modality": {"0": "CT"}, "labels": {"0": "background", "1": "pancreas", "2": "cancer"},\n "training": [{"image": "./imagesTr/pancreas_001.nii.gz", "label": "./labelsTr/pancreas_001.nii.gz"}], "test": ["./imagesTs/pancreas_002.nii.gz"]}\n' >Task07_Pancreas/dataset.json
"$PANSEVAL" manifest Task07_Pancreas -o Task07_Pancreas/m.tsv --center MSKCC 2>msd.err
check_status "msd exits 0" 0 $?
{
  echo "# written by panseval manifest from Task07_Pancreas (layout msd)"
  row case modality center image ref meta:split
  row pancreas_001 CT MSKCC imagesTr/pancreas_001.nii.gz labelsTr/pancreas_001.nii.gz train
  row pancreas_004 CT MSKCC imagesTr/pancreas_004.nii.gz labelsTr/pancreas_004.nii.gz train
  row pancreas_002 CT MSKCC imagesTs/pancreas_002.nii.gz "" test
} >msd.want
check_same "msd manifest text" msd.want Task07_Pancreas/m.tsv
check_contains "msd skips the AppleDouble files" msd.err "skipped 3 AppleDouble files (._NAME)"
"$PANSEVAL" manifest Task07_Pancreas --layout nnunet-v1 -o out/forced.tsv 2>forced.err
check_status "a forced layout that does not fit fails" 1 $?
check_contains "forced nnunet-v1 on MSD names: what does not fit" forced.err \
  "imagesTr/pancreas_001.nii.gz: no channel suffix _XXXX"

# --- PanSegData -----------------------------------------------------------------------------------
mk PanSegData/t1/imagesTr/NYU_0001_0000.nii.gz PanSegData/t1/imagesTr/MCF_0002_0000.nii.gz \
   PanSegData/t1/labelsTr/NYU_0001.nii.gz PanSegData/t1/labelsTr/MCF_0002.nii.gz \
   PanSegData/t2/imagesTr/AHN_0003_0000.nii.gz PanSegData/t2/imagesTr/NYU_0001_0000.nii.gz \
   PanSegData/t2/imagesTr/XYZ_0001_0000.nii.gz \
   PanSegData/t2/labelsTr/AHN_0003.nii.gz PanSegData/t2/labelsTr/NYU_0001.nii.gz \
   PanSegData/t2/labelsTr/XYZ_0001.nii.gz "PanSegData/Meta informations/T1-name_mapping.json" \
   pp/t1/NYU_0001.nii.gz pp/t2/NYU_0001.nii.gz pp/t2/MCF_0002.nii.gz
"$PANSEVAL" manifest PanSegData --pred pansegnet=pp -o PanSegData/m.tsv 2>pan.err
check_status "pansegdata exits 0" 0 $?
{
  echo "# written by panseval manifest from PanSegData (layout pansegdata)"
  row case modality center image ref pred:pansegnet
  row t1_MCF_0002 T1W MCF t1/imagesTr/MCF_0002_0000.nii.gz t1/labelsTr/MCF_0002.nii.gz ""
  row t1_NYU_0001 T1W NYU t1/imagesTr/NYU_0001_0000.nii.gz t1/labelsTr/NYU_0001.nii.gz ../pp/t1/NYU_0001.nii.gz
  row t2_AHN_0003 T2W AHN t2/imagesTr/AHN_0003_0000.nii.gz t2/labelsTr/AHN_0003.nii.gz ""
  row t2_NYU_0001 T2W NYU t2/imagesTr/NYU_0001_0000.nii.gz t2/labelsTr/NYU_0001.nii.gz ../pp/t2/NYU_0001.nii.gz
  row t2_XYZ_0001 T2W XYZ t2/imagesTr/XYZ_0001_0000.nii.gz t2/labelsTr/XYZ_0001.nii.gz ""
} >pan.want
check_same "pansegdata manifest text" pan.want PanSegData/m.tsv
check_contains "pansegdata: a T2 prediction named like a T1-only case matches no case" pan.err \
  "pred:pansegnet: pp/t2/MCF_0002.nii.gz matches no case"
check_contains "pansegdata: an unknown site prefix is noted" pan.err \
  "site prefix 'XYZ' is not one of PanSegData's NYU, MCF, MCA, NWU, AHN"

# --- multi-rater (CURVAS) -------------------------------------------------------------------------
mk curvas/UKCHLL001/image.nii.gz curvas/UKCHLL001/annotation_1.nii.gz \
   curvas/UKCHLL001/annotation_2.nii.gz curvas/UKCHLL001/annotation_3.nii.gz \
   curvas/UKCHLL002/image.nii.gz curvas/UKCHLL002/annotation_1.nii.gz \
   curvas/UKCHLL002/annotation_3.nii.gz curvas/UKCHLL002/annotation_x.nii.gz \
   curvas/docs/readme.txt curvas/LICENSE.txt
"$PANSEVAL" manifest curvas --modality CT -o curvas/m.tsv 2>cur.err
check_status "multi-rater exits 0" 0 $?
{
  echo "# written by panseval manifest from curvas (layout multi-rater)"
  row case modality image ref rater:2 rater:3
  row UKCHLL001 CT UKCHLL001/image.nii.gz UKCHLL001/annotation_1.nii.gz UKCHLL001/annotation_2.nii.gz UKCHLL001/annotation_3.nii.gz
  row UKCHLL002 CT UKCHLL002/image.nii.gz UKCHLL002/annotation_1.nii.gz "" UKCHLL002/annotation_3.nii.gz
} >cur.want
check_same "multi-rater manifest text (annotation_1 = ref)" cur.want curvas/m.tsv
check_contains "multi-rater: a folder without annotations is not a case" cur.err "docs/: no annotation_K files, not a case"
"$PANSEVAL" manifest curvas -q --ref-rater none -o curvas/m_none.tsv
{
  echo "# written by panseval manifest from curvas (layout multi-rater)"
  row case image rater:1 rater:2 rater:3
  row UKCHLL001 UKCHLL001/image.nii.gz UKCHLL001/annotation_1.nii.gz UKCHLL001/annotation_2.nii.gz UKCHLL001/annotation_3.nii.gz
  row UKCHLL002 UKCHLL002/image.nii.gz UKCHLL002/annotation_1.nii.gz "" UKCHLL002/annotation_3.nii.gz
} >cur_none.want
check_same "multi-rater --ref-rater none: every annotation a rater column" cur_none.want curvas/m_none.tsv
"$PANSEVAL" manifest curvas -q --ref-rater 3 -o curvas/m3.tsv
check_contains "--ref-rater 3 header" curvas/m3.tsv "case${tab}image${tab}ref${tab}rater:1${tab}rater:2"
"$PANSEVAL" manifest curvas -q --ref-rater 5 -o curvas/m5.tsv 2>cur5.err
check_status "--ref-rater with no such annotation fails" 1 $?
check_contains "--ref-rater 5 message" cur5.err "no annotation_5 file in any case folder"

# --- errors ------------------------------------------------------------------------------------------
mkdir -p unknown/images; : >unknown/a.nii.gz; : >unknown/notes.txt
"$PANSEVAL" manifest unknown -o u.tsv 2>unk.err
check_status "unknown layout fails" 1 $?
check_contains "unknown layout lists what was found" unk.err "unknown: unknown dataset layout; found: a.nii.gz, images/, notes.txt."
check_contains "unknown layout lists the layouts" unk.err "(PanSegData)"
mkdir -p empty
"$PANSEVAL" manifest empty 2>empty.err >/dev/null
check_contains "empty folder" empty.err "found: nothing (the folder is empty)"
"$PANSEVAL" manifest nosuchdir 2>nodir.err >/dev/null
check_status "missing folder fails" 1 $?
check_contains "missing folder named" nodir.err "nosuchdir: no such folder"
"$PANSEVAL" manifest v1 --pred nameonly 2>pbad.err >/dev/null
check_status "--pred without = is a usage error" 2 $?
check_contains "--pred syntax named" pbad.err "--pred expects NAME=DIR"
"$PANSEVAL" manifest v1 --pred a=nosuch 2>pmiss.err >/dev/null
check_status "--pred folder missing fails" 1 $?
check_contains "--pred folder named" pmiss.err "pred:a: nosuch: no such folder"
"$PANSEVAL" manifest v1 --pred a=pv1 --pred a=pv1 2>pdup.err >/dev/null
check_status "duplicate --pred name is a usage error" 2 $?
check_contains "duplicate --pred name named" pdup.err "prediction name 'a' given twice"
"$PANSEVAL" manifest v1 --layout nnunet-v3 2>lay.err >/dev/null
check_status "unknown --layout is a usage error" 2 $?
check_contains "unknown --layout lists the layouts" lay.err "unknown layout 'nnunet-v3'"
"$PANSEVAL" manifest 2>none.err >/dev/null
check_status "missing DATASET_DIR is a usage error" 2 $?
"$PANSEVAL" manifest v1 --format csv 2>fmt.err >/dev/null
check_status "--format is a usage error" 2 $?
echo keep >keep.tsv
"$PANSEVAL" manifest unknown -o keep.tsv 2>/dev/null
check_contains "a failed run leaves an existing -o file alone" keep.tsv "keep"
"$PANSEVAL" manifest --help >help.out
check_status "--help exits 0" 0 $?
check_contains "--help text" help.out "Usage: panseval manifest DATASET_DIR"
check_contains "--help lists the layouts" help.out "multi-rater  one folder per case"

# --- end to end: an nnU-Net v2 copy of three demo cases, evaluated ------------------------------------
"$PANSEVAL" demo-data --out demo -q -j 2
mkdir -p e2e/imagesTr e2e/labelsTr e2e_pred
for c in ct01 t1w04 t2w05; do
  cp demo/images/$c.nii.gz e2e/imagesTr/${c}_0000.nii.gz
  cp demo/labels/ref/$c.nii.gz e2e/labelsTr/$c.nii.gz
  cp demo/preds/modelB/$c.nii.gz e2e_pred/$c.nii.gz
done
printf '{"channel_names": {"0": "any"}, "labels": {"background": 0, "pancreas": 1}, "numTraining": 3, "file_ending": ".nii.gz"}' >e2e/dataset.json
"$PANSEVAL" manifest e2e --pred modelB=e2e_pred -q -o e2e/manifest.tsv
check_status "e2e manifest exits 0" 0 $?
"$PANSEVAL" metrics --manifest e2e/manifest.tsv -j 2 -o e2e.csv 2>e2e.err
check_status "metrics accepts the written manifest" 0 $?
"$PANSEVAL" metrics --manifest demo/manifest.tsv --model modelB -j 2 -o demo.csv 2>/dev/null
# the columns from label to message (the metrics, by name) must be the same for the three
# cases; subject, modality, center and meta: columns differ between the two manifests
cols() { awk -F, -v c="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "label") lo = i;
                                       else if ($i == "message") hi = i; next }
                           $1 == c { s = $1; for (i = lo; i <= hi; i++) s = s "," $i; print s }' "$1"; }
for c in ct01 t1w04 t2w05; do
  a=$(cols e2e.csv $c)
  b=$(cols demo.csv $c)
  if [ -n "$a" ] && [ "$a" = "$b" ]; then pass "e2e $c: the same metrics as the demo manifest"
  else fail "e2e $c" "'$a' vs '$b'"; fi
done

cli_done
