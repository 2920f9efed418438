# test_report_browser.sh - render a generated report.html in headless chromium (Debian's
# package; scripts/deps.sh installs it) with no network: no console message, the expected
# plot elements in the DOM, every link resolves inside the page, a screenshot and a PDF print.
# The report is the one of `panseval reproduce` on the demo data.
. "$PS_TEST_SRCDIR/cli/cli_lib.sh"
dir=$PS_TEST_TMPDIR/report_browser
rm -rf "$dir"
mkdir -p "$dir/data" "$dir/out" "$dir/profile"

"$PANSEVAL" demo-data --out "$dir/data" --seed 1 -q >/dev/null 2>&1
check_status "demo-data" 0 $?
"$PANSEVAL" reproduce --manifest "$dir/data/manifest.tsv" --out "$dir/out" --baseline modelB -q \
  --no-progress 2>"$dir/reproduce.err"
check_status "panseval reproduce writes the report" 0 $?
html=$dir/out/report.html

# Self-contained: no script, no stylesheet or font link, every src a data URI, every href
# an anchor of the page itself.
check_not_contains "no script" "$html" "<script"
check_not_contains "no link element" "$html" "<link"
check_not_contains "no @import" "$html" "@import"
if grep -oE ' src="[^"]{0,22}' "$html" | grep -vq 'src="data:image/png;base64,'; then
  fail "every src is a data URI" "$(grep -oE ' src="[^"]{0,40}' "$html" | grep -v data: | head -3)"
else pass "every src is a data URI"; fi
if grep -oE ' href="[^"]*"' "$html" | grep -vq 'href="#'; then
  fail "every href is an anchor" "$(grep -oE ' href="[^"]*"' "$html" | grep -v '"#' | head -3)"
else pass "every href is an anchor"; fi
missing=""
for a in $(grep -oE ' href="#[^"]*"' "$html" | sed 's/ href="#//; s/"$//' | sort -u); do
  grep -q " id=\"$a\"" "$html" || missing="$missing $a"
done
if [ -z "$missing" ]; then pass "every anchor has its target"; else fail "every anchor has its target" "$missing"; fi

if ! command -v chromium >/dev/null 2>&1; then
  fail "chromium" "not installed: run scripts/deps.sh (Debian package chromium)"
  cli_done; exit $?
fi
# --headless with no network: the proxy points nowhere, so any fetch would fail and log.
chrome() {
  timeout 120 chromium --headless --no-sandbox --disable-gpu --no-first-run \
    --disable-extensions --disable-background-networking --disable-sync \
    --proxy-server=127.0.0.1:9 --user-data-dir="$dir/profile" --hide-scrollbars \
    --enable-logging=stderr --v=0 "$@"
}
chrome --dump-dom "file://$html" >"$dir/dom.html" 2>"$dir/chrome.log"
check_status "chromium loads the report" 0 $?
if grep -E 'CONSOLE|Uncaught|net::ERR|Failed to load' "$dir/chrome.log" >"$dir/console.txt"; then
  fail "no console messages" "$(head -c 600 "$dir/console.txt")"
else pass "no console messages"; fi
check_contains "DOM is complete" "$dir/dom.html" "</html>"

# Expected elements (demo: 3 modalities, 4 centers, 2 models, 4 rater columns, 24 cases): box
# plots Dice and HD95 per modality and per center and kappa and Dice of the raters (6), the
# heat map, a scatter and a Bland-Altman plot per modality; boxes 2 x 3 x 2 + 2 x 4 x 2 +
# 2 x 3 x 4;
# heat-map cells 2 x 4; 5 slices per model, each linked to its row; a row anchor per case x
# model; 9 sections in the table of contents. The multi-rater agreement adds a section (10),
# a rater x rater Dice heat map per modality (3 heat maps of 3 x 3 raters A, B, C: 27 cells)
# and a model-within-variation scatter per modality (3), so 13 + 6 = 19 plots.
count() { grep -o "$2" "$1" | wc -l | tr -d ' '; }
check_status "19 plots" 19 "$(count "$dir/dom.html" '<svg ')"
check_status "6 box plots" 6 "$(count "$dir/dom.html" 'class="plot box-plot"')"
check_status "52 boxes" 52 "$(count "$dir/dom.html" '<g class="box"')"
check_status "35 heat-map cells" 35 "$(count "$dir/dom.html" '<g class="cell"')"
check_status "6 scatter plots" 6 "$(count "$dir/dom.html" 'class="plot scatter-plot"')"
check_status "4 heat maps" 4 "$(count "$dir/dom.html" 'class="plot heat-map"')"
check_status "the agreement section" 1 "$(count "$dir/dom.html" 'id="agreement"')"
check_status "3 Bland-Altman plots" 3 "$(count "$dir/dom.html" 'class="plot bland-altman-plot"')"
check_status "10 slice images" 10 "$(count "$dir/dom.html" '<img class="slice"')"
check_status "10 slices link to their row" 10 "$(count "$dir/dom.html" '<a href="#per_case-')"
check_status "48 row anchors" 48 "$(count "$dir/dom.html" '<tr id="per_case-')"
check_status "TOC" 10 "$(sed -n '/<nav class="toc">/,/<\/nav>/p' "$dir/dom.html" | grep -o '<li>' | wc -l | tr -d ' ')"

# Every number shown in a table is its CSV's number: each data-v of the table is a cell of
# the CSV named under it (cells split at commas; the CSVs here have no quoted commas in numbers).
for t in by_modality:by_modality by_center:by_center cross_center:cross_center compare:compare \
         volume:volume raters:raters published:published per_case:per_case \
         agreement_summary:agreement_summary agreement_models:agreement_models; do
  id=${t%%:*}; csv=$dir/out/${t#*:}.csv
  awk -F, 'NR > 1 { for (i = 1; i <= NF; i++) print $i }' "$csv" | sort -u >"$dir/csv_cells.txt"
  sed -n "/<table class=\"data\" id=\"$id\"/,/<\/table>/p" "$html" |
    grep -oE 'data-v="[^"]*"' | sed 's/data-v="//; s/"$//' | sort -u >"$dir/html_values.txt"
  n_values=$(wc -l <"$dir/html_values.txt" | tr -d ' ')
  extra=$(comm -23 "$dir/html_values.txt" "$dir/csv_cells.txt" | head -3)
  if [ "$n_values" -gt 5 ] && [ -z "$extra" ]; then pass "$id: numbers are CSV cells ($n_values)"
  else fail "$id: numbers are CSV cells" "$n_values values; not in the CSV: $extra"; fi
done

chrome --window-size=1200,6000 --screenshot="$dir/screenshot.png" "file://$html" >/dev/null 2>&1
check_status "screenshot" 0 $?
check_true "screenshot is a PNG" sh -c "head -c 8 '$dir/screenshot.png' | od -An -tx1 | grep -q '89 50 4e 47 0d 0a 1a 0a'"
chrome --print-to-pdf="$dir/report.pdf" --no-pdf-header-footer "file://$html" >/dev/null 2>&1
check_status "prints to PDF" 0 $?
check_true "PDF written" sh -c "head -c 5 '$dir/report.pdf' | grep -q '%PDF-'"
cli_done
