/* Tests of src/manifest: parsing every column kind, comments, path resolution, queries, and
 * every validation problem (with line and column, several reported together).
 * Expected values are written by hand from the fixture manifests in tests/data/manifest/
 * (each fixture's lines are quoted in the comments beside the expectations). */
#include "ps_manifest.h"
#include "ps_test.h"

#include <stdint.h>
#include <unistd.h>

static char srcdir_manifest[1024]; /* <tests>/data/manifest, absolute (set by meson) */

static const char *fixture(const char *name)
{
    static char buf[2048];
    snprintf(buf, sizeof buf, "%s/%s", srcdir_manifest, name);
    return buf;
}

static void setup(void)
{
    const char *p = ps_test_path("data/manifest");
    ck_assert_uint_lt(strlen(p), sizeof srcdir_manifest);
    memcpy(srcdir_manifest, p, strlen(p) + 1);
}

START_TEST(full_manifest_all_column_kinds)
{
    ps_manifest *m = NULL;
    int rc = ps_manifest_read(fixture("full.tsv"), NULL, &m);
    ck_assert_msg(rc == 0, "%s", ps_error_message());
    /* 3 rows: c1 (line 5), c2 (line 7, after a comment), c3 (line 8); the blank line 4 and
     * the comments on lines 1, 2, 6 are skipped. */
    ck_assert_int_eq(m->ncases, 3);
    ck_assert_int_eq(m->header_line, 3);
    ck_assert_int_eq(m->cases[0].line, 5);
    ck_assert_int_eq(m->cases[1].line, 7);
    ck_assert_int_eq(m->cases[2].line, 8);
    ck_assert_str_eq(m->dir, srcdir_manifest);
    /* header: case subject modality center image ref rater:A rater:A:2 rater:B pred:unet
     *         pred:nnunet meta:age  -> columns 1..12 */
    ck_assert_int_eq(m->col_case, 1);
    ck_assert_int_eq(m->col_subject, 2);
    ck_assert_int_eq(m->col_modality, 3);
    ck_assert_int_eq(m->col_center, 4);
    ck_assert_int_eq(m->col_image, 5);
    ck_assert_int_eq(m->col_ref, 6);
    ck_assert_int_eq(m->nraters, 3);
    ck_assert_str_eq(m->raters[0].name, "A");
    ck_assert_ptr_null(m->raters[0].session);
    ck_assert_int_eq(m->raters[0].col, 7);
    ck_assert_str_eq(m->raters[1].name, "A");
    ck_assert_str_eq(m->raters[1].session, "2");
    ck_assert_str_eq(m->raters[1].column, "rater:A:2");
    ck_assert_int_eq(m->raters[1].col, 8);
    ck_assert_str_eq(m->raters[2].name, "B");
    ck_assert_int_eq(m->nmodels, 2);
    ck_assert_str_eq(m->models[0], "unet");
    ck_assert_str_eq(m->models[1], "nnunet");
    ck_assert_int_eq(m->model_cols[0], 10);
    ck_assert_int_eq(m->model_cols[1], 11);
    ck_assert_int_eq(m->nmeta, 1);
    ck_assert_str_eq(m->meta_keys[0], "age");

    char want[32768];
    const ps_manifest_case *c1 = &m->cases[0], *c2 = &m->cases[1], *c3 = &m->cases[2];
    ck_assert_str_eq(c1->id, "c1");
    ck_assert_str_eq(c1->subject, "S01");
    ck_assert_str_eq(c1->modality, "CT");
    ck_assert_str_eq(c1->center, "NIH");
    snprintf(want, sizeof want, "%s/files/c1-image.dat", srcdir_manifest);
    ck_assert_str_eq(c1->image, want);
    snprintf(want, sizeof want, "%s/files/c1-raterA2.dat", srcdir_manifest);
    ck_assert_str_eq(c1->rater[1], want);
    ck_assert_ptr_null(c1->pred[1]); /* empty pred:nnunet cell */
    ck_assert_str_eq(c1->meta[0], "61");

    /* c2: "./files/c2-image.dat" loses its "./", " files/c2-unet.dat " its spaces and
     * "files//c2-nnunet.dat" its double slash; raters and meta:age are empty. */
    ck_assert_str_eq(c2->subject, "S01");
    ck_assert_str_eq(c2->modality, "T1W");
    snprintf(want, sizeof want, "%s/files/c2-image.dat", srcdir_manifest);
    ck_assert_str_eq(c2->image, want);
    snprintf(want, sizeof want, "%s/files/c2-unet.dat", srcdir_manifest);
    ck_assert_str_eq(c2->pred[0], want);
    snprintf(want, sizeof want, "%s/files/c2-nnunet.dat", srcdir_manifest);
    ck_assert_str_eq(c2->pred[1], want);
    for (int r = 0; r < 3; r++)
        ck_assert_ptr_null(c2->rater[r]);
    ck_assert_ptr_null(c2->meta[0]);

    /* c3: free-text modality, no subject / center / image, "files/./c3-ref.dat" */
    ck_assert_ptr_null(c3->subject);
    ck_assert_str_eq(c3->modality, "MR-T2 fat-sat");
    ck_assert_ptr_null(c3->center);
    ck_assert_ptr_null(c3->image);
    snprintf(want, sizeof want, "%s/files/c3-ref.dat", srcdir_manifest);
    ck_assert_str_eq(c3->ref, want);
    ck_assert_str_eq(c3->meta[0], "47");

    /* queries */
    ck_assert_int_eq(ps_manifest_find_case(m, "c2"), 1);
    ck_assert_int_eq(ps_manifest_find_case(m, "c9"), -1);
    ck_assert_int_eq(ps_manifest_model_index(m, "nnunet"), 1);
    ck_assert_int_eq(ps_manifest_model_index(m, "pred:nnunet"), -1);
    ck_assert_int_eq(ps_manifest_rater_index(m, "A", NULL), 0);
    ck_assert_int_eq(ps_manifest_rater_index(m, "A", "2"), 1);
    ck_assert_int_eq(ps_manifest_rater_index(m, "A", "3"), -1);
    ck_assert_int_eq(ps_manifest_rater_index(m, "B", NULL), 2);
    snprintf(want, sizeof want, "%s/files/c2-nnunet.dat", srcdir_manifest);
    ck_assert_str_eq(ps_manifest_pred_path(m, 1, "nnunet"), want);
    ck_assert_ptr_null(ps_manifest_pred_path(m, 0, "nnunet"));
    ck_assert_ptr_null(ps_manifest_pred_path(m, 0, "nope"));
    ck_assert_ptr_null(ps_manifest_pred_path(m, 3, "unet"));
    snprintf(want, sizeof want, "%s/files/c1-raterB.dat", srcdir_manifest);
    ck_assert_str_eq(ps_manifest_rater_path(m, 0, "B", NULL), want);
    ck_assert_ptr_null(ps_manifest_rater_path(m, 1, "B", NULL));
    ck_assert_str_eq(ps_manifest_meta(m, 2, "age"), "47");
    ck_assert_ptr_null(ps_manifest_meta(m, 2, "sex"));

    ck_assert_int_eq(ps_manifest_check_files(m, NULL), 0);
    ps_manifest_free(m);
    ps_manifest_free(NULL);
}
END_TEST

START_TEST(relative_paths_resolve_against_base_dir)
{
    /* Written by hand: base "/data/study/" (trailing slash dropped), "./" and "." components
     * removed, ".." kept, absolute paths unchanged. CRLF line ends, a byte-order mark and
     * spaces around cells are tolerated. */
    const char text[] = "\xEF\xBB\xBF"
                        "case\tref\timage\tpred:m\r\n"
                        "a\t./labels/a.nii.gz\t ../raw/a.nii.gz \t/abs/pred/a.nii.gz\r\n"
                        "b\tlabels/./b.nii.gz\t\t\r\n";
    ps_manifest_options opt;
    ps_manifest_options_init(&opt);
    opt.check = PS_MANIFEST_CHECK_NONE;
    ps_manifest *m = NULL;
    int rc = ps_manifest_parse(text, sizeof text - 1, "mem.tsv", "/data/study/", &opt, &m);
    ck_assert_msg(rc == 0, "%s", ps_error_message());
    ck_assert_str_eq(m->dir, "/data/study");
    ck_assert_int_eq(m->ncases, 2);
    ck_assert_str_eq(m->cases[0].id, "a");
    ck_assert_str_eq(m->cases[0].ref, "/data/study/labels/a.nii.gz");
    ck_assert_str_eq(m->cases[0].image, "/data/study/../raw/a.nii.gz");
    ck_assert_str_eq(m->cases[0].pred[0], "/abs/pred/a.nii.gz");
    ck_assert_str_eq(m->cases[1].ref, "/data/study/labels/b.nii.gz");
    ck_assert_ptr_null(m->cases[1].image);
    ck_assert_ptr_null(m->cases[1].pred[0]);
    ps_manifest_free(m);

    /* NULL base dir = the current directory */
    char cwd[4096], want[8192];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    rc = ps_manifest_parse(text, sizeof text - 1, "mem.tsv", NULL, &opt, &m);
    ck_assert_int_eq(rc, 0);
    snprintf(want, sizeof want, "%s/labels/a.nii.gz", cwd);
    ck_assert_str_eq(m->cases[0].ref, want);
    ps_manifest_free(m);
}
END_TEST

START_TEST(all_problems_reported_together)
{
    ps_manifest *m = (ps_manifest *)1;
    char path[2048];
    snprintf(path, sizeof path, "%s", fixture("bad.tsv"));
    int rc = ps_manifest_read(path, NULL, &m);
    ck_assert_int_eq(rc, PS_ERR_FORMAT);
    ck_assert_ptr_null(m);
    /* bad.tsv, written by hand (line: content):
     *  2: case modality ref pred rater: pred:unet ref Ref
     *  3: c1 ... (fine)
     *  4: c2 CT files/missing-ref.dat . . files/missing-unet.dat . .
     *  5: c1 (repeat)     6: (empty case id)
     *  7: c3 T2W files/c3-ref.dat  (3 cells)   8: c4 ... extra  (9 cells) */
    char want[32768];
    snprintf(want, sizeof want,
             "%s: 10 problems:\n"
             "%s:2:4: unknown column 'pred' (a prediction column is named pred:MODEL, e.g. "
             "pred:nnunet)\n"
             "%s:2:5: column 'rater:': expected rater:NAME or rater:NAME:SESSION\n"
             "%s:2:7: duplicate column 'ref' (also column 3)\n"
             "%s:2:8: unknown column 'Ref' (did you mean 'ref'? names are case-sensitive)\n"
             "%s:4:3: column 'ref': no such file: %s/files/missing-ref.dat\n"
             "%s:4:6: column 'pred:unet': no such file: %s/files/missing-unet.dat\n"
             "%s:5:1: duplicate case id 'c1' (first on line 3)\n"
             "%s:6:1: empty case id\n"
             "%s:7:4: row has 3 cells, the header has 8 columns (cells are separated by "
             "single tabs)\n"
             "%s:8:9: row has 9 cells, the header has 8 columns (cells are separated by "
             "single tabs)",
             path, path, path, path, path, path, srcdir_manifest, path, srcdir_manifest, path,
             path, path, path);
    ck_assert_str_eq(ps_error_message(), want);
}
END_TEST

START_TEST(missing_case_column)
{
    ps_manifest *m = NULL;
    char path[2048];
    snprintf(path, sizeof path, "%s", fixture("no_case.tsv"));
    ck_assert_int_eq(ps_manifest_read(path, NULL, &m), PS_ERR_FORMAT);
    /* no_case.tsv line 2: "id<TAB>ref" */
    char want[32768];
    snprintf(want, sizeof want,
             "%s: 2 problems:\n"
             "%s:2: missing required column 'case' (the header is the first line that is not "
             "blank or a comment)\n"
             "%s:2:1: unknown column 'id' (the case id column is named 'case')",
             path, path, path);
    ck_assert_str_eq(ps_error_message(), want);
}
END_TEST

START_TEST(empty_and_header_only)
{
    ps_manifest *m = NULL;
    char path[2048], want[32768];
    snprintf(path, sizeof path, "%s", fixture("empty.tsv"));
    ck_assert_int_eq(ps_manifest_read(path, NULL, &m), PS_ERR_FORMAT);
    snprintf(want, sizeof want, "%s: no header row (the file is empty or holds only comments "
             "and blank lines)", path);
    ck_assert_str_eq(ps_error_message(), want);

    snprintf(path, sizeof path, "%s", fixture("header_only.tsv"));
    ck_assert_int_eq(ps_manifest_read(path, NULL, &m), PS_ERR_FORMAT);
    snprintf(want, sizeof want, "%s: 1 problem:\n%s:1: no cases: the manifest has a header "
             "but no rows", path, path);
    ck_assert_str_eq(ps_error_message(), want);

    ck_assert_int_eq(ps_manifest_read("/nonexistent/dir/m.tsv", NULL, &m), PS_ERR_IO);
    ck_assert_ptr_nonnull(strstr(ps_error_message(), "/nonexistent/dir/m.tsv"));
    ck_assert_ptr_null(m);

    /* a CSV or space-separated header: one problem saying so, not "unknown column 'case,ref'" */
    ck_assert_int_eq(ps_manifest_parse("case,ref\nc1,r.nii.gz\n", 20, "c.tsv", "/", NULL, &m),
                     PS_ERR_FORMAT);
    ck_assert_str_eq(ps_error_message(), "c.tsv: 1 problem:\nc.tsv:1: the header has no tab: "
                     "manifest columns are separated by tabs, and this one seems to use commas; "
                     "save it with one tab between columns (TSV)");
    ck_assert_ptr_null(m);
    ck_assert_int_eq(ps_manifest_parse("case ref\nc1 r.nii.gz\n", 20, "s.tsv", "/", NULL, &m),
                     PS_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(ps_error_message(), "seems to use spaces;"));
    ck_assert_ptr_null(m);
    ck_assert_int_eq(ps_manifest_parse("case\na\0b\n", 9, "nul.tsv", "/", NULL, &m),
                     PS_ERR_FORMAT);
    ck_assert_str_eq(ps_error_message(), "nul.tsv: contains NUL bytes; a manifest is a text "
                     "(TSV) file");
}
END_TEST

START_TEST(column_name_mistakes)
{
    /* each header cell is a different mistake; one row so only header problems remain */
    const char text[] = "case\tpred:\tmeta:\trater:A:\trater::1\trater:A:1:x\t\tpred_unet\t"
                        "label\tCase\n"
                        "a\t\t\t\t\t\t\t\t\t\n";
    ps_manifest_options opt;
    ps_manifest_options_init(&opt);
    opt.check = PS_MANIFEST_CHECK_NONE;
    ps_manifest *m = NULL;
    ck_assert_int_eq(ps_manifest_parse(text, sizeof text - 1, "h.tsv", "/", &opt, &m),
                     PS_ERR_FORMAT);
    ck_assert_str_eq(ps_error_message(),
                     "h.tsv: 9 problems:\n"
                     "h.tsv:1:2: column 'pred:' has no model name (write pred:MODEL)\n"
                     "h.tsv:1:3: column 'meta:' has no key (write meta:KEY)\n"
                     "h.tsv:1:4: column 'rater:A:': expected rater:NAME or rater:NAME:SESSION\n"
                     "h.tsv:1:5: column 'rater::1': expected rater:NAME or rater:NAME:SESSION\n"
                     "h.tsv:1:6: column 'rater:A:1:x': expected rater:NAME or "
                     "rater:NAME:SESSION\n"
                     "h.tsv:1:7: empty column name\n"
                     "h.tsv:1:8: unknown column 'pred_unet' (a prediction column is named "
                     "pred:MODEL, e.g. pred:nnunet)\n"
                     "h.tsv:1:9: unknown column 'label' (the reference label column is named "
                     "'ref')\n"
                     "h.tsv:1:10: unknown column 'Case' (did you mean 'case'? names are "
                     "case-sensitive)");
}
END_TEST

START_TEST(problem_list_is_capped)
{
    /* 30 rows whose ref does not exist: 20 listed, then "... and 10 more problems" */
    char text[4096];
    size_t len = (size_t)snprintf(text, sizeof text, "case\tref\n");
    for (int i = 1; i <= 30; i++)
        len += (size_t)snprintf(text + len, sizeof text - len, "c%02d\tno/such/c%02d.nii\n", i, i);
    ps_manifest *m = NULL;
    ck_assert_int_eq(ps_manifest_parse(text, len, "cap.tsv", "/nonexistent", NULL, &m),
                     PS_ERR_IO);
    const char *msg = ps_error_message();
    const char *head = "cap.tsv: 30 problems:\ncap.tsv:2:2: column 'ref': no such file: "
                       "/nonexistent/no/such/c01.nii\n";
    ck_assert_msg(!strncmp(msg, head, strlen(head)), "%s", msg);
    ck_assert_ptr_nonnull(strstr(msg, "cap.tsv:21:2: column 'ref': no such file: "
                                      "/nonexistent/no/such/c20.nii\n... and 10 more problems"));
    ck_assert_ptr_null(strstr(msg, "c21.nii"));
    const char *tail = "... and 10 more problems";
    ck_assert_str_eq(msg + strlen(msg) - strlen(tail), tail);
}
END_TEST

START_TEST(check_flags_and_selected_models)
{
    /* pred:good exists (this test's own source fixture), pred:bad and the image do not */
    char text[8192];
    size_t len = (size_t)snprintf(text, sizeof text,
                                  "case\timage\tpred:good\tpred:bad\n"
                                  "x\tno-image.nii\tfiles/c1-unet.dat\tno-pred.nii\n");
    ps_manifest_options opt;
    ps_manifest_options_init(&opt);
    ps_manifest *m = NULL;

    /* all checks: two missing files */
    ck_assert_int_eq(ps_manifest_parse(text, len, "sel.tsv", srcdir_manifest, &opt, &m),
                     PS_ERR_IO);
    ck_assert_ptr_nonnull(strstr(ps_error_message(), "sel.tsv: 2 problems:"));

    /* only model "good", images not checked: valid */
    const char *good[] = {"good"};
    opt.models = good;
    opt.nmodels = 1;
    opt.check = PS_MANIFEST_CHECK_ALL & ~PS_MANIFEST_CHECK_IMAGES;
    int rc = ps_manifest_parse(text, len, "sel.tsv", srcdir_manifest, &opt, &m);
    ck_assert_msg(rc == 0, "%s", ps_error_message());
    ck_assert_int_eq(m->nmodels, 2); /* unselected models stay in the manifest */

    /* the same manifest, checked again with model "bad" selected */
    const char *bad[] = {"bad"};
    opt.models = bad;
    char want[32768];
    snprintf(want, sizeof want, "sel.tsv: 1 problem:\nsel.tsv:2:4: column 'pred:bad': no such "
             "file: %s/no-pred.nii", srcdir_manifest);
    ck_assert_int_eq(ps_manifest_check_files(m, &opt), PS_ERR_IO);
    ck_assert_str_eq(ps_error_message(), want);
    ps_manifest_free(m);

    /* a selected model that is not a column */
    const char *unknown[] = {"good", "nnunet"};
    opt.models = unknown;
    opt.nmodels = 2;
    ck_assert_int_eq(ps_manifest_parse(text, len, "sel.tsv", srcdir_manifest, &opt, &m),
                     PS_ERR_FORMAT);
    ck_assert_str_eq(ps_error_message(),
                     "sel.tsv: 1 problem:\nsel.tsv:1: no column 'pred:nnunet' for the selected "
                     "model 'nnunet' (models in this manifest: good, bad)");
}
END_TEST

START_TEST(directory_is_not_a_file)
{
    char text[256];
    size_t len = (size_t)snprintf(text, sizeof text, "case\tref\nd\tfiles\n");
    ps_manifest *m = NULL;
    ck_assert_int_eq(ps_manifest_parse(text, len, "dir.tsv", srcdir_manifest, NULL, &m),
                     PS_ERR_IO);
    char want[32768];
    snprintf(want, sizeof want, "dir.tsv: 1 problem:\ndir.tsv:2:2: column 'ref': is a "
             "directory, not a file: %s/files", srcdir_manifest);
    ck_assert_str_eq(ps_error_message(), want);
}
END_TEST

/* The parser must survive arbitrary input: 20000 deterministic mutations (byte flips to tabs,
 * newlines, '#', ':', NUL, spaces or random bytes; deletions; truncations) of a valid
 * manifest. Each parse either succeeds with consistent fields or fails with a message; it
 * never crashes (the harness runs tests in a child process and would report the signal). */
START_TEST(mutations_never_crash)
{
    const char base[] = "# comment\ncase\tsubject\tmodality\tref\trater:A:2\tpred:m\tmeta:k\n"
                        "a\ts1\tCT\tr/a.nii\tx/a.nii\tp/a.nii\t1\n"
                        "b\ts1\tT1W\tr/b.nii\t\tp/b.nii\t\n";
    const char specials[] = "\t\n#: \r\0/";
    char buf[sizeof base + 8];
    uint64_t x = 0x9E3779B97F4A7C15ull;
    ps_manifest_options opt;
    ps_manifest_options_init(&opt);
    opt.check = PS_MANIFEST_CHECK_NONE;
    int nok = 0, nfail = 0;
    for (int it = 0; it < 20000; it++) {
        size_t len = sizeof base - 1;
        memcpy(buf, base, len);
        int nmut = 1 + (int)((x >> 60) & 3);
        for (int k = 0; k < nmut && len > 1; k++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17; /* xorshift64 */
            size_t pos = (size_t)(x % len);
            switch ((x >> 32) % 4) {
            case 0: buf[pos] = specials[(x >> 40) % (sizeof specials - 1)]; break;
            case 1: buf[pos] = (char)(x >> 48); break;
            case 2: memmove(buf + pos, buf + pos + 1, len - pos - 1); len--; break;
            default: len = pos + 1; break;
            }
        }
        ps_manifest *m = NULL;
        int rc = ps_manifest_parse(buf, len, "fz.tsv", "/base", &opt, &m);
        if (rc == 0) {
            nok++;
            ck_assert_int_gt(m->ncases, 0);
            for (int64_t i = 0; i < m->ncases; i++)
                ck_assert(m->cases[i].id && m->cases[i].id[0]);
            ps_manifest_free(m);
        } else {
            nfail++;
            ck_assert_int_lt(rc, 0);
            ck_assert_ptr_null(m);
            ck_assert(ps_error_message()[0] != '\0');
        }
    }
    /* both outcomes occur: the mutations are neither all harmless nor all fatal */
    ck_assert_int_gt(nok, 0);
    ck_assert_int_gt(nfail, 0);
}
END_TEST

static Suite *manifest_suite(void)
{
    Suite *s = suite_create("manifest");
    TCase *tc = tcase_create("parse");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, full_manifest_all_column_kinds);
    tcase_add_test(tc, relative_paths_resolve_against_base_dir);
    tcase_add_test(tc, all_problems_reported_together);
    tcase_add_test(tc, missing_case_column);
    tcase_add_test(tc, empty_and_header_only);
    tcase_add_test(tc, column_name_mistakes);
    tcase_add_test(tc, problem_list_is_capped);
    tcase_add_test(tc, check_flags_and_selected_models);
    tcase_add_test(tc, directory_is_not_a_file);
    tcase_add_test(tc, mutations_never_crash);
    suite_add_tcase(s, tc);
    return s;
}

PS_TEST_MAIN(manifest_suite)
