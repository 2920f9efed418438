/* manifest.c - read and validate data manifests (format: data-manifests/README.md).
 *
 * The TSV is split here rather than with ps_table_parse(): a manifest allows comments and
 * blank lines anywhere, and a ragged row must become one problem in the list (with its line
 * and column) instead of stopping the read, so that a user sees every mistake at once.
 */
#include "ps_manifest.h"
#include "ps_io.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Bytes of problem text put into one error message; leaves room in core's 4096-byte buffer
 * for the context callers prepend. */
#define LISTED_BYTES_MAX 3000

void ps_manifest_options_init(ps_manifest_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->check = PS_MANIFEST_CHECK_ALL;
}

/* ---- problem list ---------------------------------------------------------------------------- */
typedef struct problem {
    int64_t line; /* 0 = about the whole file */
    int col;      /* 0 = about the whole line */
    int format;   /* 1 = the table is wrong, 0 = a file is missing */
    char *text;
} problem;

typedef struct problems {
    problem *v;
    int64_t n, cap;
    int nomem;
} problems;

static void add_problem(problems *p, int format, int64_t line, int col, const char *fmt, ...)
    PS_PRINTF(5, 6);

static void add_problem(problems *p, int format, int64_t line, int col, const char *fmt, ...)
{
    if (p->nomem)
        return;
    if (p->n == p->cap) {
        int64_t cap = p->cap ? 2 * p->cap : 16;
        problem *v = ps_realloc_array(p->v, (size_t)cap, sizeof *v);
        if (!v) {
            p->nomem = 1;
            return;
        }
        p->v = v;
        p->cap = cap;
    }
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char *text = ps_strdup(buf);
    if (!text) {
        p->nomem = 1;
        return;
    }
    p->v[p->n++] = (problem){line, col, format, text};
}

static void problems_free(problems *p)
{
    for (int64_t i = 0; i < p->n; i++)
        free(p->v[i].text);
    free(p->v);
    memset(p, 0, sizeof *p);
}

static int cmp_problem(const void *a, const void *b)
{
    const problem *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    if (x->col != y->col)
        return x->col < y->col ? -1 : 1;
    return strcmp(x->text, y->text);
}

/* Turn the list into one error message (sorted by line, then column) and return its code:
 * PS_ERR_FORMAT if any problem is about the table itself, else PS_ERR_IO. */
static int problems_report(problems *p, const char *name)
{
    if (p->nomem)
        return ps_error(PS_ERR_NOMEM, "%s: out of memory while validating", name);
    if (p->n == 0)
        return PS_OK;
    qsort(p->v, (size_t)p->n, sizeof *p->v, cmp_problem);
    int code = PS_ERR_IO;
    for (int64_t i = 0; i < p->n; i++)
        if (p->v[i].format)
            code = PS_ERR_FORMAT;
    char msg[LISTED_BYTES_MAX + 256];
    size_t len = 0;
    int w = snprintf(msg, sizeof msg, "%s: %lld problem%s:", name, (long long)p->n,
                     p->n == 1 ? "" : "s");
    len = w > 0 ? (size_t)w : 0;
    int64_t listed = 0;
    for (; listed < p->n && listed < PS_MANIFEST_MAX_LISTED; listed++) {
        const problem *q = &p->v[listed];
        char where[64];
        if (q->line > 0 && q->col > 0)
            snprintf(where, sizeof where, ":%lld:%d", (long long)q->line, q->col);
        else if (q->line > 0)
            snprintf(where, sizeof where, ":%lld", (long long)q->line);
        else
            where[0] = '\0';
        char item[1400];
        snprintf(item, sizeof item, "\n%s%s: %s", name, where, q->text);
        size_t n = strlen(item);
        if (len + n > LISTED_BYTES_MAX)
            break;
        memcpy(msg + len, item, n + 1);
        len += n;
    }
    if (listed < p->n)
        snprintf(msg + len, sizeof msg - len, "\n... and %lld more problem%s",
                 (long long)(p->n - listed), p->n - listed == 1 ? "" : "s");
    return ps_error(code, "%s", msg);
}

/* ---- small string helpers -------------------------------------------------------------------- */
static int is_space(char c) { return c == ' ' || c == '\r' || c == '\f' || c == '\v'; }

/* Copy of [s, e) without surrounding spaces and carriage returns. */
static char *dup_trimmed(const char *s, const char *e)
{
    while (s < e && is_space(*s))
        s++;
    while (e > s && is_space(e[-1]))
        e--;
    return ps_strndup(s, (size_t)(e - s));
}

/* Split one line (without '\n') at tabs into trimmed cells. Returns the count or -1. */
static int split_cells(const char *s, const char *e, char ***out)
{
    int n = 1;
    for (const char *c = s; c < e; c++)
        n += *c == '\t';
    char **cells = ps_calloc((size_t)n, sizeof *cells);
    if (!cells)
        return -1;
    int k = 0;
    const char *start = s;
    for (const char *c = s;; c++) {
        if (c == e || *c == '\t') {
            if (!(cells[k++] = dup_trimmed(start, c))) {
                for (int j = 0; j < k - 1; j++)
                    free(cells[j]);
                free(cells);
                return -1;
            }
            start = c + 1;
            if (c == e)
                break;
        }
    }
    *out = cells;
    return n;
}

static void free_cells(char **cells, int n)
{
    if (!cells)
        return;
    for (int i = 0; i < n; i++)
        free(cells[i]);
    free(cells);
}

/* Remove "." components and repeated slashes ("/a/./b//c" -> "/a/b/c"); ".." is kept
 * because resolving it lexically is wrong when a component is a symbolic link. */
static void normalize_path(char *p)
{
    char *r = p, *w = p;
    while (*r) {
        if (r[0] == '/' && r[1] == '/') {
            r++;
            continue;
        }
        if (r[0] == '/' && r[1] == '.' && (r[2] == '/' || r[2] == '\0') && r != p) {
            r += 2;
            continue;
        }
        if (r == p && r[0] == '.' && r[1] == '/') {
            r += 2;
            continue;
        }
        *w++ = *r++;
    }
    *w = '\0';
    size_t n = strlen(p);
    if (n > 1 && p[n - 1] == '/')
        p[n - 1] = '\0';
}

static char *current_dir(void)
{
    char buf[PATH_MAX];
    if (!getcwd(buf, sizeof buf)) {
        ps_error(PS_ERR_IO, "cannot determine the current directory: %s", strerror(errno));
        return NULL;
    }
    return ps_strdup(buf);
}

/* Absolute form of directory `dir` (NULL = current directory). */
static char *absolute_dir(const char *dir)
{
    char *abs;
    if (!dir || !*dir || !strcmp(dir, "."))
        abs = current_dir();
    else if (dir[0] == '/')
        abs = ps_strdup(dir);
    else {
        char *cwd = current_dir();
        if (!cwd)
            return NULL;
        abs = ps_asprintf("%s/%s", cwd, dir);
        free(cwd);
    }
    if (abs)
        normalize_path(abs);
    return abs;
}

static char *resolve(const char *dir, const char *cell)
{
    char *p = cell[0] == '/' ? ps_strdup(cell) : ps_asprintf("%s/%s", dir, cell);
    if (p)
        normalize_path(p);
    return p;
}

/* ---- columns --------------------------------------------------------------------------------- */
typedef enum col_kind {
    COL_CASE,
    COL_SUBJECT,
    COL_MODALITY,
    COL_CENTER,
    COL_IMAGE,
    COL_REF,
    COL_RATER,
    COL_PRED,
    COL_META,
    COL_IMAGE_MORE, /* image:N, index N-1 */
    COL_BAD,
} col_kind;

typedef struct col_info {
    col_kind kind;
    int index; /* into raters / models / meta_keys */
} col_info;

static const char *const fixed_names[] = {"case", "subject", "modality", "center", "image", "ref"};
#define NFIXED 6

#define KNOWN_COLUMNS \
    "case, subject, modality, center, image, image:N, ref, rater:NAME, rater:NAME:SESSION, " \
    "pred:MODEL, meta:KEY"

static int ci_equal(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a, y = *b;
        if (x >= 'A' && x <= 'Z')
            x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (char)(y - 'A' + 'a');
        if (x != y)
            return 0;
    }
    return *a == *b;
}

static int ci_prefix(const char *s, const char *prefix)
{
    size_t n = strlen(prefix);
    char buf[16];
    if (strlen(s) < n || n >= sizeof buf)
        return 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return ci_equal(buf, prefix);
}

/* Classify header cell `name` (column `col`, 1-based) and fill the manifest's rater / model /
 * meta lists. Problems go to `pr`. Returns 0, or PS_ERR_NOMEM. */
static int classify_column(ps_manifest *m, const char *name, int64_t line, int col,
                           col_info *ci, problems *pr)
{
    ci->kind = COL_BAD;
    ci->index = -1;
    if (!*name) {
        add_problem(pr, 1, line, col, "empty column name");
        return 0;
    }
    for (int k = 0; k < NFIXED; k++)
        if (!strcmp(name, fixed_names[k])) {
            ci->kind = (col_kind)k;
            return 0;
        }
    if (!strncmp(name, "image:", 6)) {
        char *end;
        long k = strtol(name + 6, &end, 10);
        if (name[6] < '1' || name[6] > '9' || *end || k < 1 || k >= PS_MANIFEST_MAX_IMAGES) {
            add_problem(pr, 1, line, col, "column '%s': expected image:N with N from 1 to %d "
                        "(the modality number, as nnU-Net's _000N files)", name,
                        PS_MANIFEST_MAX_IMAGES - 1);
            return 0;
        }
        ci->kind = COL_IMAGE_MORE;
        ci->index = (int)k - 1;
        return 0;
    }
    if (!strncmp(name, "pred:", 5)) {
        const char *model = name + 5;
        if (!*model) {
            add_problem(pr, 1, line, col, "column 'pred:' has no model name (write pred:MODEL)");
            return 0;
        }
        char **v = ps_realloc_array(m->models, (size_t)m->nmodels + 1, sizeof *v);
        if (!v)
            return PS_ERR_NOMEM;
        m->models = v;
        if (!(v[m->nmodels] = ps_strdup(model)))
            return PS_ERR_NOMEM;
        int *mc = ps_realloc_array(m->model_cols, (size_t)m->nmodels + 1, sizeof *mc);
        if (!mc) {
            free(v[m->nmodels]);
            return PS_ERR_NOMEM;
        }
        m->model_cols = mc;
        mc[m->nmodels] = col;
        ci->kind = COL_PRED;
        ci->index = m->nmodels++;
        return 0;
    }
    if (!strncmp(name, "meta:", 5)) {
        const char *key = name + 5;
        if (!*key) {
            add_problem(pr, 1, line, col, "column 'meta:' has no key (write meta:KEY)");
            return 0;
        }
        char **v = ps_realloc_array(m->meta_keys, (size_t)m->nmeta + 1, sizeof *v);
        if (!v)
            return PS_ERR_NOMEM;
        m->meta_keys = v;
        if (!(v[m->nmeta] = ps_strdup(key)))
            return PS_ERR_NOMEM;
        ci->kind = COL_META;
        ci->index = m->nmeta++;
        return 0;
    }
    if (!strncmp(name, "rater:", 6)) {
        const char *rn = name + 6;
        const char *colon = strchr(rn, ':');
        const char *sess = colon ? colon + 1 : NULL;
        size_t nlen = colon ? (size_t)(colon - rn) : strlen(rn);
        if (nlen == 0 || (sess && (!*sess || strchr(sess, ':')))) {
            add_problem(pr, 1, line, col,
                        "column '%s': expected rater:NAME or rater:NAME:SESSION", name);
            return 0;
        }
        ps_manifest_rater *v = ps_realloc_array(m->raters, (size_t)m->nraters + 1, sizeof *v);
        if (!v)
            return PS_ERR_NOMEM;
        m->raters = v;
        ps_manifest_rater *r = &v[m->nraters];
        memset(r, 0, sizeof *r);
        r->col = col;
        m->nraters++;
        if (!(r->name = ps_strndup(rn, nlen)) || (sess && !(r->session = ps_strdup(sess))) ||
            !(r->column = ps_strdup(name)))
            return PS_ERR_NOMEM;
        ci->kind = COL_RATER;
        ci->index = m->nraters - 1;
        return 0;
    }
    /* Unknown: give the most likely intended name. */
    for (int k = 0; k < NFIXED; k++)
        if (ci_equal(name, fixed_names[k])) {
            add_problem(pr, 1, line, col, "unknown column '%s' (did you mean '%s'? names are "
                        "case-sensitive)", name, fixed_names[k]);
            return 0;
        }
    if (ci_equal(name, "pred") || ci_equal(name, "prediction") || ci_prefix(name, "pred_") ||
        ci_prefix(name, "pred-") || ci_prefix(name, "pred:") || ci_prefix(name, "pred "))
        add_problem(pr, 1, line, col, "unknown column '%s' (a prediction column is named "
                    "pred:MODEL, e.g. pred:nnunet)", name);
    else if (ci_equal(name, "rater") || ci_prefix(name, "rater_") || ci_prefix(name, "rater-") ||
             ci_prefix(name, "rater:") || ci_prefix(name, "rater "))
        add_problem(pr, 1, line, col, "unknown column '%s' (a rater column is named rater:NAME "
                    "or rater:NAME:SESSION)", name);
    else if (ci_equal(name, "label") || ci_equal(name, "gt") || ci_equal(name, "reference") ||
             ci_equal(name, "mask") || ci_equal(name, "seg"))
        add_problem(pr, 1, line, col, "unknown column '%s' (the reference label column is "
                    "named 'ref')", name);
    else if (ci_equal(name, "id") || ci_equal(name, "case_id") || ci_equal(name, "caseid"))
        add_problem(pr, 1, line, col, "unknown column '%s' (the case id column is named "
                    "'case')", name);
    else
        add_problem(pr, 1, line, col, "unknown column '%s' (known columns: " KNOWN_COLUMNS
                    ")", name);
    return 0;
}

/* ---- manifest object ------------------------------------------------------------------------- */
void ps_manifest_free(ps_manifest *m)
{
    if (!m)
        return;
    for (int64_t i = 0; i < m->ncases; i++) {
        ps_manifest_case *c = &m->cases[i];
        free(c->id);
        free(c->subject);
        free(c->modality);
        free(c->center);
        free(c->image);
        for (int k = 0; k < PS_MANIFEST_MAX_IMAGES - 1; k++)
            free(c->image_more[k]);
        free(c->ref);
        if (c->rater)
            for (int r = 0; r < m->nraters; r++)
                free(c->rater[r]);
        free(c->rater);
        if (c->pred)
            for (int k = 0; k < m->nmodels; k++)
                free(c->pred[k]);
        free(c->pred);
        if (c->meta)
            for (int k = 0; k < m->nmeta; k++)
                free(c->meta[k]);
        free(c->meta);
    }
    free(m->cases);
    for (int r = 0; r < m->nraters; r++) {
        free(m->raters[r].name);
        free(m->raters[r].session);
        free(m->raters[r].column);
    }
    free(m->raters);
    for (int k = 0; k < m->nmodels; k++)
        free(m->models[k]);
    free(m->models);
    free(m->model_cols);
    for (int k = 0; k < m->nmeta; k++)
        free(m->meta_keys[k]);
    free(m->meta_keys);
    free(m->path);
    free(m->dir);
    free(m);
}

/* Store a non-empty cell into a case field: text as is, paths resolved. */
static int set_field(const ps_manifest *m, char **dst, const char *cell, int is_path)
{
    if (!*cell)
        return 0;
    *dst = is_path ? resolve(m->dir, cell) : ps_strdup(cell);
    return *dst ? 0 : PS_ERR_NOMEM;
}

static int fill_case(ps_manifest *m, ps_manifest_case *c, char **cells, int ncells,
                     const col_info *cols, int ncols)
{
    if (!(c->rater = ps_calloc((size_t)m->nraters + 1, sizeof *c->rater)) ||
        !(c->pred = ps_calloc((size_t)m->nmodels + 1, sizeof *c->pred)) ||
        !(c->meta = ps_calloc((size_t)m->nmeta + 1, sizeof *c->meta)))
        return PS_ERR_NOMEM;
    int n = ncells < ncols ? ncells : ncols;
    for (int j = 0; j < n; j++) {
        const char *cell = cells[j];
        int rc = 0;
        switch (cols[j].kind) {
        case COL_CASE: rc = set_field(m, &c->id, cell, 0); break;
        case COL_SUBJECT: rc = set_field(m, &c->subject, cell, 0); break;
        case COL_MODALITY: rc = set_field(m, &c->modality, cell, 0); break;
        case COL_CENTER: rc = set_field(m, &c->center, cell, 0); break;
        case COL_IMAGE: rc = set_field(m, &c->image, cell, 1); break;
        case COL_IMAGE_MORE: rc = set_field(m, &c->image_more[cols[j].index], cell, 1); break;
        case COL_REF: rc = set_field(m, &c->ref, cell, 1); break;
        case COL_RATER: rc = set_field(m, &c->rater[cols[j].index], cell, 1); break;
        case COL_PRED: rc = set_field(m, &c->pred[cols[j].index], cell, 1); break;
        case COL_META: rc = set_field(m, &c->meta[cols[j].index], cell, 0); break;
        case COL_BAD: break;
        }
        if (rc)
            return rc;
    }
    return 0;
}

typedef struct id_entry {
    const char *id;
    int64_t index;
} id_entry;

static int cmp_id_entry(const void *a, const void *b)
{
    const id_entry *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    if (c)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Duplicate case ids: each repeat is reported at its own line, naming the first line. */
static int check_duplicates(const ps_manifest *m, int case_col, problems *pr)
{
    id_entry *e = ps_malloc_array((size_t)m->ncases + 1, sizeof *e);
    if (!e)
        return PS_ERR_NOMEM;
    int64_t n = 0;
    for (int64_t i = 0; i < m->ncases; i++)
        if (m->cases[i].id)
            e[n++] = (id_entry){m->cases[i].id, i};
    qsort(e, (size_t)n, sizeof *e, cmp_id_entry);
    for (int64_t i = 1, first = 0; i < n; i++) {
        if (strcmp(e[i].id, e[first].id)) {
            first = i;
            continue;
        }
        add_problem(pr, 1, m->cases[e[i].index].line, case_col + 1,
                    "duplicate case id '%s' (first on line %lld)", e[i].id,
                    (long long)m->cases[e[first].index].line);
    }
    free(e);
    return 0;
}

/* One referenced file: must exist, be a regular file and be readable. */
static void check_one_file(problems *pr, int64_t line, int col, const char *column,
                           const char *path)
{
    struct stat st;
    if (stat(path, &st)) {
        if (errno == ENOENT || errno == ENOTDIR)
            add_problem(pr, 0, line, col, "column '%s': no such file: %s", column, path);
        else
            add_problem(pr, 0, line, col, "column '%s': cannot access %s: %s", column, path,
                        strerror(errno));
        return;
    }
    if (S_ISDIR(st.st_mode))
        add_problem(pr, 0, line, col, "column '%s': is a directory, not a file: %s", column,
                    path);
    else if (access(path, R_OK))
        add_problem(pr, 0, line, col, "column '%s': cannot read %s: %s", column, path,
                    strerror(errno));
}

static void check_files_at(const ps_manifest *m, const ps_manifest_options *opt,
                           const char *models_sel, problems *pr)
{
    int check = opt ? opt->check : PS_MANIFEST_CHECK_ALL;
    for (int64_t i = 0; i < m->ncases; i++) {
        const ps_manifest_case *c = &m->cases[i];
        if ((check & PS_MANIFEST_CHECK_IMAGES) && c->image)
            check_one_file(pr, c->line, m->col_image, "image", c->image);
        for (int k = 0; (check & PS_MANIFEST_CHECK_IMAGES) && k < PS_MANIFEST_MAX_IMAGES - 1; k++)
            if (c->image_more[k]) {
                char column[16];
                snprintf(column, sizeof column, "image:%d", k + 1);
                check_one_file(pr, c->line, m->col_image_more[k], column, c->image_more[k]);
            }
        if ((check & PS_MANIFEST_CHECK_REFS) && c->ref)
            check_one_file(pr, c->line, m->col_ref, "ref", c->ref);
        if (check & PS_MANIFEST_CHECK_RATERS)
            for (int r = 0; r < m->nraters; r++)
                if (c->rater[r])
                    check_one_file(pr, c->line, m->raters[r].col, m->raters[r].column,
                                   c->rater[r]);
        if (check & PS_MANIFEST_CHECK_PREDS)
            for (int k = 0; k < m->nmodels; k++)
                if (c->pred[k] && models_sel[k]) {
                    char column[512];
                    snprintf(column, sizeof column, "pred:%s", m->models[k]);
                    check_one_file(pr, c->line, m->model_cols[k], column, c->pred[k]);
                }
    }
}

/* Which models opt selects (1 each); unknown selected names become problems at line `hline`. */
static int select_models(const ps_manifest *m, const ps_manifest_options *opt, int64_t hline,
                         char **sel_out, problems *pr)
{
    char *sel = ps_calloc((size_t)m->nmodels + 1, 1);
    if (!sel)
        return PS_ERR_NOMEM;
    if (!opt || !opt->models) {
        memset(sel, 1, (size_t)m->nmodels);
    } else {
        for (int s = 0; s < opt->nmodels; s++) {
            int k = ps_manifest_model_index(m, opt->models[s]);
            if (k >= 0) {
                sel[k] = 1;
                continue;
            }
            char list[1024] = "";
            size_t len = 0;
            for (int j = 0; j < m->nmodels && len < sizeof list - 1; j++) {
                int w = snprintf(list + len, sizeof list - len, "%s%s", j ? ", " : "",
                                 m->models[j]);
                if (w < 0)
                    break;
                len += (size_t)w;
            }
            add_problem(pr, 1, hline, 0, "no column 'pred:%s' for the selected model '%s' "
                        "(models in this manifest: %s)", opt->models[s], opt->models[s],
                        m->nmodels ? list : "none");
        }
    }
    *sel_out = sel;
    return 0;
}

int ps_manifest_parse(const char *text, size_t len, const char *name, const char *base_dir,
                      const ps_manifest_options *opt, ps_manifest **out)
{
    *out = NULL;
    if (!name)
        name = "manifest";
    problems pr = {0};
    col_info *cols = NULL;
    char **hcells = NULL;
    int ncols = 0;
    char *sel = NULL;
    int rc = PS_OK;
    ps_manifest *m = ps_calloc(1, sizeof *m);
    if (!m)
        return PS_ERR_NOMEM;
    if (!(m->path = ps_strdup(name)) || !(m->dir = absolute_dir(base_dir))) {
        rc = ps_error_code() ? ps_error_code() : PS_ERR_NOMEM;
        goto done;
    }
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) { /* UTF-8 byte order mark */
        text += 3;
        len -= 3;
    }
    if ((rc = ps_text_check(text, len, name, "a manifest is a text (TSV) file")))
        goto done;

    int64_t header_line = 0, cap = 0;
    int case_col = -1;
    const char *end = text + len;
    int64_t lineno = 0;
    for (const char *s = text; s < end;) {
        const char *e = memchr(s, '\n', (size_t)(end - s));
        if (!e)
            e = end;
        lineno++;
        const char *t = s;
        while (t < e && (is_space(*t) || *t == '\t'))
            t++;
        int skip = t == e || *s == '#';
        const char *line_start = s;
        s = e < end ? e + 1 : end;
        if (skip)
            continue;
        char **cells;
        int n = split_cells(line_start, e, &cells);
        if (n < 0) {
            rc = PS_ERR_NOMEM;
            goto done;
        }
        if (!header_line) {
            header_line = lineno;
            m->header_line = lineno;
            hcells = cells;
            ncols = n;
            if (!(cols = ps_calloc((size_t)n, sizeof *cols))) {
                rc = PS_ERR_NOMEM;
                goto done;
            }
            /* One cell holding commas, semicolons or spaces: a CSV or a space-separated
             * file; say so once instead of "unknown column 'case,subject,...'". */
            const char *sep = n != 1 ? NULL : strchr(cells[0], ',') ? "commas"
                            : strchr(cells[0], ';') ? "semicolons"
                            : strchr(cells[0], ' ') ? "spaces" : NULL;
            if (sep) {
                add_problem(&pr, 1, lineno, 0, "the header has no tab: manifest columns are "
                            "separated by tabs, and this one seems to use %s; save it with "
                            "one tab between columns (TSV)", sep);
                cols[0].kind = COL_BAD;
                continue;
            }
            for (int j = 0; j < n; j++) {
                if ((rc = classify_column(m, cells[j], lineno, j + 1, &cols[j], &pr)))
                    goto done;
                /* a column named twice is ambiguous: which cell would count? */
                for (int k = 0; k < j; k++)
                    if (*cells[j] && !strcmp(cells[j], cells[k])) {
                        add_problem(&pr, 1, lineno, j + 1,
                                    "duplicate column '%s' (also column %d)", cells[j], k + 1);
                        cols[j].kind = COL_BAD;
                        break;
                    }
                switch (cols[j].kind) {
                case COL_CASE: case_col = j; m->col_case = j + 1; break;
                case COL_SUBJECT: m->col_subject = j + 1; break;
                case COL_MODALITY: m->col_modality = j + 1; break;
                case COL_CENTER: m->col_center = j + 1; break;
                case COL_IMAGE: m->col_image = j + 1; break;
                case COL_IMAGE_MORE: m->col_image_more[cols[j].index] = j + 1; break;
                case COL_REF: m->col_ref = j + 1; break;
                default: break;
                }
            }
            if (case_col < 0)
                add_problem(&pr, 1, lineno, 0, "missing required column 'case' (the header "
                            "is the first line that is not blank or a comment)");
            continue;
        }
        if (n != ncols)
            add_problem(&pr, 1, lineno, (n < ncols ? n : ncols) + 1,
                        "row has %d cell%s, the header has %d column%s (cells are separated "
                        "by single tabs)", n, n == 1 ? "" : "s", ncols, ncols == 1 ? "" : "s");
        if (m->ncases == cap) {
            cap = cap ? 2 * cap : 64;
            ps_manifest_case *v = ps_realloc_array(m->cases, (size_t)cap, sizeof *v);
            if (!v) {
                free_cells(cells, n);
                rc = PS_ERR_NOMEM;
                goto done;
            }
            m->cases = v;
        }
        ps_manifest_case *c = &m->cases[m->ncases++];
        memset(c, 0, sizeof *c);
        c->line = lineno;
        rc = fill_case(m, c, cells, n, cols, ncols);
        free_cells(cells, n);
        if (rc)
            goto done;
        if (case_col >= 0 && case_col < n && !c->id)
            add_problem(&pr, 1, lineno, case_col + 1, "empty case id");
    }
    if (!header_line) {
        rc = ps_error(PS_ERR_FORMAT, "%s: no header row (the file is empty or holds only "
                      "comments and blank lines)", name);
        goto done;
    }
    if (m->ncases == 0)
        add_problem(&pr, 1, header_line, 0, "no cases: the manifest has a header but no rows");
    if (case_col >= 0 && (rc = check_duplicates(m, case_col, &pr)))
        goto done;
    if ((rc = select_models(m, opt, header_line, &sel, &pr)))
        goto done;
    if (!opt || opt->check)
        check_files_at(m, opt, sel, &pr);
    rc = problems_report(&pr, name);

done:
    if (rc == PS_ERR_NOMEM && !*ps_error_message())
        ps_error(PS_ERR_NOMEM, "%s: out of memory", name);
    problems_free(&pr);
    free_cells(hcells, ncols);
    free(cols);
    free(sel);
    if (rc) {
        ps_manifest_free(m);
        return rc;
    }
    *out = m;
    return PS_OK;
}

int ps_manifest_check_files(const ps_manifest *m, const ps_manifest_options *opt)
{
    problems pr = {0};
    char *sel = NULL;
    int rc = select_models(m, opt, m->header_line, &sel, &pr);
    if (!rc) {
        check_files_at(m, opt, sel, &pr);
        rc = problems_report(&pr, m->path);
    }
    problems_free(&pr);
    free(sel);
    return rc;
}

int ps_manifest_read(const char *path, const ps_manifest_options *opt, ps_manifest **out)
{
    *out = NULL;
    char *buf;
    size_t len;
    int rc0 = ps_read_all(path, "manifest", &buf, &len);
    if (rc0)
        return rc0;
    /* relative paths resolve against the manifest's folder */
    const char *slash = strrchr(path, '/');
    char *dir = slash ? ps_strndup(path, slash == path ? 1 : (size_t)(slash - path)) : NULL;
    if (slash && !dir) {
        free(buf);
        return PS_ERR_NOMEM;
    }
    int rc = ps_manifest_parse(buf, len, path, dir, opt, out);
    free(dir);
    free(buf);
    return rc;
}

/* ---- queries --------------------------------------------------------------------------------- */
int64_t ps_manifest_find_case(const ps_manifest *m, const char *id)
{
    for (int64_t i = 0; i < m->ncases; i++)
        if (!strcmp(m->cases[i].id, id))
            return i;
    return -1;
}

int ps_manifest_model_index(const ps_manifest *m, const char *model)
{
    for (int k = 0; k < m->nmodels; k++)
        if (!strcmp(m->models[k], model))
            return k;
    return -1;
}

int ps_manifest_rater_index(const ps_manifest *m, const char *name, const char *session)
{
    for (int r = 0; r < m->nraters; r++) {
        const ps_manifest_rater *x = &m->raters[r];
        if (strcmp(x->name, name))
            continue;
        if (!session ? !x->session : x->session && !strcmp(x->session, session))
            return r;
    }
    return -1;
}

const char *ps_manifest_pred_path(const ps_manifest *m, int64_t i, const char *model)
{
    int k = ps_manifest_model_index(m, model);
    if (k < 0 || i < 0 || i >= m->ncases)
        return NULL;
    return m->cases[i].pred[k];
}

const char *ps_manifest_rater_path(const ps_manifest *m, int64_t i, const char *name,
                                   const char *session)
{
    int r = ps_manifest_rater_index(m, name, session);
    if (r < 0 || i < 0 || i >= m->ncases)
        return NULL;
    return m->cases[i].rater[r];
}

const char *ps_manifest_meta(const ps_manifest *m, int64_t i, const char *key)
{
    if (i < 0 || i >= m->ncases)
        return NULL;
    for (int k = 0; k < m->nmeta; k++)
        if (!strcmp(m->meta_keys[k], key))
            return m->cases[i].meta[k];
    return NULL;
}

const char *ps_manifest_image_path(const ps_manifest *m, int64_t i, int k)
{
    if (i < 0 || i >= m->ncases || k < 0 || k >= PS_MANIFEST_MAX_IMAGES)
        return NULL;
    return k == 0 ? m->cases[i].image : m->cases[i].image_more[k - 1];
}
