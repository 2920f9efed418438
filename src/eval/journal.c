/* journal.c - the run journal of ps_eval_dist.h: its header, the exact serialization of a
 * job's rows, and reading back with a torn tail dropped.
 *
 * File layout:
 *   text header, one "key<TAB>value" line each, in this order:
 *     panseval-journal 1 | version | manifest | manifest_hash | plan_hash | njobs | format |
 *     shard (I/N, 0/0 = none) | models (TAB-separated) | settings (TAB-separated name=value)
 *   then the line "body", then records, each
 *     "JREC" | int64 job | uint32 n | n payload bytes | uint64 check
 *   (little-endian, as written by this machine), check = FNV-1a 64 of job, n and the payload.
 * Payload of a job: uint32 nrows, then per row: uint8 status, uint8 has_metrics, the strings
 * label, geometry and message (uint32 length + bytes), and when has_metrics the
 * ps_case_metrics struct as its bytes (the doubles' bits: a replayed row prints exactly as
 * the original; the version line guarantees the same struct layout).
 * Hashes: FNV-1a 64 (Fowler, Noll, Vo; offset basis 0xcbf29ce484222325, prime 0x100000001b3),
 * an identity check against mistakes, not a defence against forgery.
 */
#include "journal_internal.h"
#include "ps_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FNV_BASIS 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

uint64_t ps_jr_fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= FNV_PRIME;
    }
    return h;
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
    if (!s)
        return ps_jr_fnv(h, "\001", 2); /* distinct from any string */
    return ps_jr_fnv(h, s, strlen(s) + 1);
}

int ps_jr_file_hash(const char *path, uint64_t *out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return ps_error(PS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char buf[65536];
    uint64_t h = FNV_BASIS;
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        h = ps_jr_fnv(h, buf, n);
    int bad = ferror(f);
    fclose(f);
    if (bad)
        return ps_error(PS_ERR_IO, "%s: read error", path);
    *out = h;
    return PS_OK;
}

uint64_t ps_jr_plan_hash(const ps_eval_plan *plan)
{
    uint64_t h = FNV_BASIS;
    for (int64_t j = 0; j < plan->njobs; j++) {
        const ps_eval_job *jb = &plan->jobs[j];
        h = fnv_str(h, jb->case_id);
        h = fnv_str(h, jb->model);
        h = fnv_str(h, jb->ref_path);
        h = fnv_str(h, jb->pred_path);
    }
    return h;
}

char *ps_jr_journal_name(const char *p)
{
    size_t n = strlen(p);
    if (n > 8 && !strcmp(p + n - 8, ".journal"))
        return ps_strdup(p);
    return ps_asprintf("%s.journal", p);
}

/* ---- settings as name=value pairs of ps_eval_settings_set ----------------------------------- */

static const char *nsd_method_name(ps_nsd_method m) { return m == PS_NSD_SURFEL ? "surfel" : "voxel"; }
static const char *empty_name(ps_empty_policy e)
{
    return e == PS_EMPTY_INF ? "inf" : e == PS_EMPTY_WORST ? "worst" : "nan";
}

char *ps_jr_settings_text(const ps_eval_settings *s)
{
    const ps_metrics_options *m = &s->metrics;
    char labels[4096] = "";
    size_t used = 0;
    for (int i = 0; s->regions && i < s->nregions && used + 200 < sizeof labels; i++) {
        char t[16 * 12];
        ps_region_format(&s->regions[i], t, sizeof t);
        used += (size_t)snprintf(labels + used, sizeof labels - used, "%s%s", i ? "," : "", t);
    }
    /* %.17g round-trips a double through ps_eval_settings_set's strtod */
    return ps_asprintf("hd95=%s\tpercentile=%.17g\tnsd-tol=%.17g\tnsd-method=%s\tempty=%s\t"
                       "empty-dice=%s\tgeometry=%s\tgeometry-tol=%.17g%s%s%s%s",
                       ps_hd_method_name(m->hd_method), m->percentile, m->nsd_tol_mm,
                       nsd_method_name(m->nsd_method), empty_name(m->empty),
                       m->empty_dice == PS_EMPTY_DICE_NAN ? "nan" : "one",
                       s->geometry == PS_GEOMETRY_REF_GRID ? "ref-grid" : "strict",
                       s->geometry_tol_mm, m->distances ? "" : "\tno-distances",
                       s->fail_fast ? "\tfail-fast" : "", s->regions ? "\tlabels=" : "",
                       s->regions ? labels : "");
}

int ps_jr_settings_apply(const char *text, ps_eval_settings *s)
{
    char *copy = ps_strdup(text);
    if (!copy)
        return PS_ERR_NOMEM;
    int rc = PS_OK;
    for (char *tok = copy, *next; tok && !rc; tok = next) {
        next = strchr(tok, '\t');
        if (next)
            *next++ = 0;
        if (!*tok)
            continue;
        char *eq = strchr(tok, '=');
        if (eq)
            *eq++ = 0;
        rc = ps_eval_settings_set(s, tok, eq);
    }
    free(copy);
    return rc;
}

/* ---- header ------------------------------------------------------------------------------- */

void ps_jr_header_clear(ps_jr_header *h)
{
    free(h->version);
    free(h->manifest);
    free(h->format);
    free(h->models);
    free(h->settings);
    memset(h, 0, sizeof *h);
}

int ps_jr_header_make(const ps_eval_plan *plan, const ps_eval_settings *s,
                      const char *manifest, const char *const *models, int nmodels,
                      ps_table_format fmt, int shard_index, int shard_count, ps_jr_header *h)
{
    memset(h, 0, sizeof *h);
    int rc = PS_OK;
    if (manifest && (rc = ps_jr_file_hash(manifest, &h->manifest_hash)))
        return rc;
    h->plan_hash = ps_jr_plan_hash(plan);
    h->njobs = plan->njobs;
    h->shard_index = shard_index;
    h->shard_count = shard_count;
    size_t ml = 1;
    for (int i = 0; i < nmodels; i++)
        ml += strlen(models[i]) + 1;
    h->models = ps_malloc(ml);
    if (h->models) {
        h->models[0] = 0;
        for (int i = 0; i < nmodels; i++) {
            if (i)
                strcat(h->models, "\t");
            strcat(h->models, models[i]);
        }
    }
    h->version = ps_strdup(PS_VERSION);
    h->manifest = ps_strdup(manifest ? manifest : "-");
    h->format = ps_strdup(ps_table_format_name(fmt));
    h->settings = ps_jr_settings_text(s);
    if (!h->models || !h->version || !h->manifest || !h->format || !h->settings) {
        ps_jr_header_clear(h);
        return PS_ERR_NOMEM;
    }
    return PS_OK;
}

int ps_jr_header_write(FILE *f, const ps_jr_header *h)
{
    fprintf(f, "panseval-journal\t1\nversion\t%s\nmanifest\t%s\nmanifest_hash\t%016llx\n"
               "plan_hash\t%016llx\nnjobs\t%lld\nformat\t%s\nshard\t%d/%d\nmodels\t%s\n"
               "settings\t%s\nbody\n",
            h->version, h->manifest, (unsigned long long)h->manifest_hash,
            (unsigned long long)h->plan_hash, (long long)h->njobs, h->format, h->shard_index,
            h->shard_count, h->models, h->settings);
    return ferror(f) ? ps_error(PS_ERR_IO, "cannot write the journal header") : PS_OK;
}

/* Compare the identity of two headers: NULL when they agree, else what differs. */
const char *ps_jr_header_differs(const ps_jr_header *a, const ps_jr_header *b, char *buf,
                                 size_t n)
{
    if (strcmp(a->version, b->version))
        snprintf(buf, n, "it was written by panseval %s, this is %s", a->version, b->version);
    else if (a->manifest_hash != b->manifest_hash)
        snprintf(buf, n, "the manifest differs (%s, hash %016llx; now %s, hash %016llx)",
                 a->manifest, (unsigned long long)a->manifest_hash, b->manifest,
                 (unsigned long long)b->manifest_hash);
    else if (a->plan_hash != b->plan_hash || a->njobs != b->njobs)
        snprintf(buf, n, "the evaluations differ (%lld jobs, plan hash %016llx; now %lld, "
                 "%016llx): other models, files or folders", (long long)a->njobs,
                 (unsigned long long)a->plan_hash, (long long)b->njobs,
                 (unsigned long long)b->plan_hash);
    else if (strcmp(a->settings, b->settings))
        snprintf(buf, n, "the options differ (journal: %s; now: %s)", a->settings, b->settings);
    else if (strcmp(a->format, b->format))
        snprintf(buf, n, "the output format differs (journal %s, now %s)", a->format,
                 b->format);
    else
        return NULL;
    for (char *p = buf; *p; p++)
        if (*p == '\t')
            *p = ' ';
    return buf;
}

/* ---- reading -------------------------------------------------------------------------------- */

/* One header line without its '\n' (malloc'd), or NULL at the end or past 16 MiB. */
static char *read_line(FILE *f)
{
    size_t cap = 256, n = 0;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    int c = EOF;
    while ((c = fgetc(f)) != EOF && c != '\n') {
        if (n + 1 >= cap) {
            char *t = cap < ((size_t)1 << 24) ? realloc(s, cap *= 2) : NULL;
            if (!t) {
                free(s);
                return NULL;
            }
            s = t;
        }
        s[n++] = (char)c;
    }
    if (c == EOF && n == 0) {
        free(s);
        return NULL;
    }
    s[n] = 0;
    return s;
}

static int expect_key(FILE *f, const char *path, const char *key, char **value)
{
    char *l = read_line(f);
    size_t k = strlen(key);
    if (!l || strncmp(l, key, k) || l[k] != '\t') {
        free(l);
        return ps_error(PS_ERR_FORMAT, "%s: not a panseval journal, or its header is damaged "
                        "(expected the line '%s')", path, key);
    }
    *value = ps_strdup(l + k + 1);
    free(l);
    return *value ? PS_OK : PS_ERR_NOMEM;
}

void ps_jr_contents_free(ps_jr_contents *c)
{
    if (!c)
        return;
    ps_jr_header_clear(&c->h);
    for (int64_t i = 0; i < c->nrec; i++)
        free(c->rec[i].payload);
    free(c->rec);
    free(c);
}

int ps_jr_read(const char *path, ps_jr_contents **out)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return ps_error(errno == ENOENT ? PS_ERR_IO : PS_ERR_IO, "%s: cannot open the journal: "
                        "%s", path, strerror(errno));
    ps_jr_contents *c = ps_calloc(1, sizeof *c);
    int rc = c ? PS_OK : PS_ERR_NOMEM;
    char *v = NULL;
    if (!rc && !(rc = expect_key(f, path, "panseval-journal", &v)) && strcmp(v, "1"))
        rc = ps_error(PS_ERR_UNSUPPORTED, "%s: journal format %s is not supported", path, v);
    free(v);
    v = NULL;
    if (!rc)
        rc = expect_key(f, path, "version", &c->h.version);
    if (!rc)
        rc = expect_key(f, path, "manifest", &c->h.manifest);
    if (!rc && !(rc = expect_key(f, path, "manifest_hash", &v)))
        c->h.manifest_hash = strtoull(v, NULL, 16);
    free(v);
    v = NULL;
    if (!rc && !(rc = expect_key(f, path, "plan_hash", &v)))
        c->h.plan_hash = strtoull(v, NULL, 16);
    free(v);
    v = NULL;
    if (!rc && !(rc = expect_key(f, path, "njobs", &v)))
        c->h.njobs = strtoll(v, NULL, 10);
    free(v);
    v = NULL;
    if (!rc)
        rc = expect_key(f, path, "format", &c->h.format);
    if (!rc && !(rc = expect_key(f, path, "shard", &v)) &&
        sscanf(v, "%d/%d", &c->h.shard_index, &c->h.shard_count) != 2)
        rc = ps_error(PS_ERR_FORMAT, "%s: bad shard line '%s'", path, v);
    free(v);
    v = NULL;
    if (!rc)
        rc = expect_key(f, path, "models", &c->h.models);
    if (!rc)
        rc = expect_key(f, path, "settings", &c->h.settings);
    if (!rc) {
        char *l = read_line(f);
        if (!l || strcmp(l, "body"))
            rc = ps_error(PS_ERR_FORMAT, "%s: journal header does not end in 'body'", path);
        free(l);
    }
    if (rc) {
        fclose(f);
        ps_jr_contents_free(c);
        return rc;
    }
    if (c->h.njobs < 0 || c->h.njobs > ((int64_t)1 << 40)) {
        fclose(f);
        ps_jr_contents_free(c);
        return ps_error(PS_ERR_FORMAT, "%s: bad njobs in the journal header", path);
    }
    /* records until the end; a short or damaged record ends the valid part */
    c->valid_bytes = (int64_t)ftello(f);
    int64_t cap = 0;
    for (;;) {
        unsigned char hd[16];
        if (fread(hd, 1, 16, f) != 16 || memcmp(hd, "JREC", 4))
            break;
        int64_t job;
        uint32_t n;
        memcpy(&job, hd + 4, 8);
        memcpy(&n, hd + 12, 4);
        if (job < 0 || job >= c->h.njobs)
            break;
        unsigned char *p = malloc(n ? n : 1);
        uint64_t check, want;
        if (!p || fread(p, 1, n, f) != n || fread(&check, 1, 8, f) != 8) {
            free(p);
            break;
        }
        want = ps_jr_fnv(ps_jr_fnv(ps_jr_fnv(FNV_BASIS, &job, 8), &n, 4), p, n);
        if (check != want) {
            free(p);
            break;
        }
        if (c->nrec == cap) {
            int64_t nc = cap ? cap * 2 : 64;
            ps_jr_record *t = ps_realloc_array(c->rec, (size_t)nc, sizeof *t);
            if (!t) {
                free(p);
                fclose(f);
                ps_jr_contents_free(c);
                return PS_ERR_NOMEM;
            }
            c->rec = t;
            cap = nc;
        }
        c->rec[c->nrec].job = job;
        c->rec[c->nrec].payload = p;
        c->rec[c->nrec].len = n;
        c->nrec++;
        c->valid_bytes = (int64_t)ftello(f);
    }
    struct stat st;
    if (!fstat(fileno(f), &st))
        c->torn_bytes = (int64_t)st.st_size - c->valid_bytes;
    fclose(f);
    *out = c;
    return PS_OK;
}

/* ---- writing -------------------------------------------------------------------------------- */

struct ps_jr_writer {
    int fd;
    char *path;
    struct timespec last_sync;
};

static double since(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t->tv_sec) + 1e-9 * (double)(now.tv_nsec - t->tv_nsec);
}

int ps_jr_writer_open(const char *path, const ps_jr_header *fresh, int64_t keep_bytes,
                      ps_jr_writer **out)
{
    *out = NULL;
    ps_jr_writer *w = ps_calloc(1, sizeof *w);
    if (!w || !(w->path = ps_strdup(path))) {
        free(w);
        return PS_ERR_NOMEM;
    }
    int flags = O_WRONLY | O_CREAT | (fresh ? O_TRUNC : 0);
    w->fd = open(path, flags, 0666);
    if (w->fd < 0) {
        int rc = ps_error(PS_ERR_IO, "%s: cannot open the journal: %s", path, strerror(errno));
        free(w->path);
        free(w);
        return rc;
    }
    int rc = PS_OK;
    if (fresh) {
        char *text = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&text, &len);
        if (!m)
            rc = ps_error(PS_ERR_NOMEM, "journal header");
        else {
            rc = ps_jr_header_write(m, fresh);
            fclose(m);
            if (!rc && write(w->fd, text, len) != (ssize_t)len)
                rc = ps_error(PS_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
            free(text);
        }
    } else if (ftruncate(w->fd, (off_t)keep_bytes) || lseek(w->fd, 0, SEEK_END) < 0) {
        /* drop a torn last record before appending */
        rc = ps_error(PS_ERR_IO, "%s: cannot truncate the journal: %s", path, strerror(errno));
    }
    if (!rc && fdatasync(w->fd))
        rc = ps_error(PS_ERR_IO, "%s: fdatasync: %s", path, strerror(errno));
    clock_gettime(CLOCK_MONOTONIC, &w->last_sync);
    if (rc) {
        close(w->fd);
        free(w->path);
        free(w);
        return rc;
    }
    *out = w;
    return PS_OK;
}

int ps_jr_writer_append(ps_jr_writer *w, int64_t job, const unsigned char *payload, size_t n)
{
    if (n > UINT32_MAX)
        return ps_error(PS_ERR_RANGE, "%s: a job's rows exceed 4 GiB", w->path);
    uint32_t n32 = (uint32_t)n;
    uint64_t check = ps_jr_fnv(ps_jr_fnv(ps_jr_fnv(FNV_BASIS, &job, 8), &n32, 4), payload, n);
    unsigned char *rec = ps_malloc(16 + n + 8);
    if (!rec)
        return PS_ERR_NOMEM;
    memcpy(rec, "JREC", 4);
    memcpy(rec + 4, &job, 8);
    memcpy(rec + 12, &n32, 4);
    memcpy(rec + 16, payload, n);
    memcpy(rec + 16 + n, &check, 8);
    /* one write(): a process killed now leaves the record whole or torn, never interleaved */
    size_t done = 0, total = 16 + n + 8;
    while (done < total) {
        ssize_t k = write(w->fd, rec + done, total - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            free(rec);
            return ps_error(PS_ERR_IO, "%s: cannot write: %s", w->path, strerror(errno));
        }
        done += (size_t)k;
    }
    free(rec);
    if (since(&w->last_sync) >= 1.0) {
        if (fdatasync(w->fd))
            return ps_error(PS_ERR_IO, "%s: fdatasync: %s", w->path, strerror(errno));
        clock_gettime(CLOCK_MONOTONIC, &w->last_sync);
    }
    return PS_OK;
}

int ps_jr_writer_close(ps_jr_writer *w, int remove_file)
{
    if (!w)
        return PS_OK;
    int rc = PS_OK;
    if (!remove_file && fdatasync(w->fd))
        rc = ps_error(PS_ERR_IO, "%s: fdatasync: %s", w->path, strerror(errno));
    if (close(w->fd) && !rc)
        rc = ps_error(PS_ERR_IO, "%s: close: %s", w->path, strerror(errno));
    if (remove_file && unlink(w->path) && !rc)
        rc = ps_error(PS_ERR_IO, "%s: cannot remove: %s", w->path, strerror(errno));
    free(w->path);
    free(w);
    return rc;
}

/* ---- rows <-> bytes ------------------------------------------------------------------------- */

typedef struct buf {
    unsigned char *p;
    size_t n, cap;
    int err;
} buf;

static void put(buf *b, const void *x, size_t n)
{
    if (b->err)
        return;
    if (b->n + n > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 1024;
        while (nc < b->n + n)
            nc *= 2;
        unsigned char *t = realloc(b->p, nc);
        if (!t) {
            b->err = 1;
            return;
        }
        b->p = t;
        b->cap = nc;
    }
    memcpy(b->p + b->n, x, n);
    b->n += n;
}

static void put_str(buf *b, const char *s)
{
    uint32_t n = s ? (uint32_t)strlen(s) : 0;
    put(b, &n, 4);
    put(b, s ? s : "", n);
}

int ps_jr_encode(const ps_eval_row *rows, int nrows, unsigned char **out, size_t *len)
{
    buf b = {NULL, 0, 0, 0};
    uint32_t n = (uint32_t)nrows;
    put(&b, &n, 4);
    for (int i = 0; i < nrows; i++) {
        unsigned char st[4] = {(unsigned char)rows[i].status, rows[i].m != NULL, 0, 0};
        put(&b, st, 4);
        put_str(&b, rows[i].label);
        put_str(&b, rows[i].geometry);
        put_str(&b, rows[i].message);
        if (rows[i].m)
            put(&b, rows[i].m, sizeof *rows[i].m);
    }
    if (b.err) {
        free(b.p);
        return ps_error(PS_ERR_NOMEM, "out of memory serialising rows");
    }
    *out = b.p;
    *len = b.n;
    return PS_OK;
}

void ps_jr_rows_free(ps_jr_rows *r)
{
    free(r->rows);
    free(r->m);
    free(r->strings);
    memset(r, 0, sizeof *r);
}

int ps_jr_decode(const unsigned char *p, size_t n, const ps_eval_job *job, ps_jr_rows *out)
{
    memset(out, 0, sizeof *out);
    size_t pos = 0;
    uint32_t nrows;
#define NEED(k) \
    if (n - pos < (size_t)(k)) \
        goto bad
    NEED(4);
    memcpy(&nrows, p, 4);
    pos = 4;
    if (nrows == 0 || nrows > n)
        goto bad;
    out->rows = ps_calloc(nrows, sizeof *out->rows);
    out->m = ps_calloc(nrows, sizeof *out->m);
    out->strings = ps_malloc(n + 3 * (size_t)nrows); /* every string plus its NUL */
    if (!out->rows || !out->m || !out->strings) {
        ps_jr_rows_free(out);
        return PS_ERR_NOMEM;
    }
    size_t sp = 0;
    for (uint32_t i = 0; i < nrows; i++) {
        NEED(4);
        unsigned char st[4];
        memcpy(st, p + pos, 4);
        pos += 4;
        if (st[0] >= PS_EVAL_NSTATUS)
            goto bad;
        ps_eval_row *r = &out->rows[i];
        r->job = job;
        r->status = (ps_eval_status)st[0];
        const char **dst[3] = {&r->label, &r->geometry, &r->message};
        for (int k = 0; k < 3; k++) {
            uint32_t len;
            NEED(4);
            memcpy(&len, p + pos, 4);
            pos += 4;
            NEED(len);
            memcpy(out->strings + sp, p + pos, len);
            out->strings[sp + len] = 0;
            *dst[k] = out->strings + sp;
            sp += len + 1;
            pos += len;
        }
        if (st[1]) {
            NEED(sizeof(ps_case_metrics));
            memcpy(&out->m[i], p + pos, sizeof(ps_case_metrics));
            pos += sizeof(ps_case_metrics);
            r->m = &out->m[i];
        }
    }
    if (pos != n)
        goto bad;
    out->nrows = (int)nrows;
    return PS_OK;
bad:
    ps_jr_rows_free(out);
    return ps_error(PS_ERR_FORMAT, "journal record of case %s, model %s is damaged",
                    job->case_id, job->model);
#undef NEED
}

int ps_jr_coverage(ps_jr_contents *const *c, int n, const char *const *names, int64_t nunits,
                   const char *what, int (*needed)(int64_t unit, void *user),
                   ps_jr_unit_name_fn unit_name, void *user, int64_t *where)
{
    enum { MAX_NAMED = 20 };
    int64_t ndup = 0, nmiss = 0;
    char dup[2048] = "", miss[2048] = "", unit[512];
    for (int64_t u = 0; u < nunits; u++)
        where[u] = -1;
    for (int i = 0; i < n; i++)
        for (int64_t k = 0; k < c[i]->nrec; k++) {
            int64_t u = c[i]->rec[k].job;
            if (where[u] >= 0 && (where[u] >> 32) != i) {
                if (ndup++ < MAX_NAMED) {
                    size_t l = strlen(dup);
                    unit_name(u, unit, sizeof unit, user);
                    snprintf(dup + l, sizeof dup - l, "%s%s (%s and %s)", l ? ", " : "", unit,
                             names[where[u] >> 32], names[i]);
                }
                continue;
            }
            where[u] = ((int64_t)i << 32) | k; /* within one journal: the last record */
        }
    for (int64_t u = 0; u < nunits; u++)
        if (where[u] < 0 && (!needed || needed(u, user)) && nmiss++ < MAX_NAMED) {
            size_t l = strlen(miss);
            unit_name(u, unit, sizeof unit, user);
            snprintf(miss + l, sizeof miss - l, "%s%s", l ? ", " : "", unit);
        }
    if (ndup)
        return ps_error(PS_ERR_ARG, "%lld %s appear in more than one shard (the same shard "
                        "given twice?): %s%s", (long long)ndup, what, dup,
                        ndup > MAX_NAMED ? ", ..." : "");
    if (nmiss)
        return ps_error(PS_ERR_ARG, "%lld %s are in no shard (a shard missing or unfinished? "
                        "resume it with --resume): %s%s", (long long)nmiss, what, miss,
                        nmiss > MAX_NAMED ? ", ..." : "");
    return PS_OK;
}
