/* checkpoint.c - nnU-Net v1 model folders: torch.save archive -> state dict, .model.pkl /
 * plans.pkl -> ps_plans. The file layout is described in docs/checkpoints.md. */
#include "ckpt_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Tensors may share a storage or expand it (stride 0), so their elements could outnumber the
 * bytes of the file by any factor. A state dict may hold at most (file size in bytes + 2^24)
 * elements in total: a file of N bytes holds at most N distinct elements (1-byte storages),
 * and the slack allows tied or expanded tensors up to 64 MB of float32. A tiny hostile file
 * therefore cannot make us allocate more than 4 x (its size + 16 M) bytes. */
#define PS_NUMEL_SLACK ((int64_t)1 << 24)

/* ---- file mapping ------------------------------------------------------------------------- */
int ps_map_file(const char *path, ps_mapped_file *out)
{
    static const uint8_t empty = 0;
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return ps_error(PS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st)) {
        int e = errno;
        close(fd);
        return ps_error(PS_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return ps_error(PS_ERR_IO, "%s: not a regular file", path);
    }
    out->size = (size_t)st.st_size;
    out->data = &empty;
    if (out->size) {
        void *m = mmap(NULL, out->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            int e = errno;
            close(fd);
            return ps_error(PS_ERR_IO, "%s: cannot map: %s", path, strerror(e));
        }
        out->map_ = m;
        out->data = m;
    }
    close(fd);
    return PS_OK;
}

void ps_unmap_file(ps_mapped_file *m)
{
    if (m && m->map_)
        munmap(m->map_, m->size);
    if (m)
        memset(m, 0, sizeof *m);
}

/* ---- state dict ---------------------------------------------------------------------------- */
const ps_tensor *ps_state_dict_get(const ps_state_dict *sd, const char *name)
{
    for (int i = 0; sd && i < sd->n; i++)
        if (!strcmp(sd->tensors[i].name, name))
            return &sd->tensors[i];
    return NULL;
}

static void shape_str(char *buf, size_t n, int ndim, const int64_t *shape)
{
    size_t o = 0;
    o += (size_t)snprintf(buf + o, n - o, "[");
    for (int k = 0; k < ndim && o < n; k++)
        o += (size_t)snprintf(buf + o, n - o, "%s%lld", k ? ", " : "", (long long)shape[k]);
    if (o < n)
        snprintf(buf + o, n - o, "]");
}

int ps_state_dict_require(const ps_state_dict *sd, const char *name, int ndim,
                          const int64_t *shape, const ps_tensor **out)
{
    const ps_tensor *t = ps_state_dict_get(sd, name);
    char want[160], have[160];
    shape_str(want, sizeof want, ndim, shape);
    if (!t)
        return ps_error(PS_ERR_FORMAT, "state dict has no tensor '%s' (expected shape %s)",
                        name, want);
    int same = t->ndim == ndim;
    for (int k = 0; same && k < ndim; k++)
        same = t->shape[k] == shape[k];
    if (!same) {
        shape_str(have, sizeof have, t->ndim, t->shape);
        return ps_error(PS_ERR_FORMAT, "state dict tensor '%s' has shape %s, expected %s", name,
                        have, want);
    }
    if (out)
        *out = t;
    return PS_OK;
}

void ps_state_dict_clear(ps_state_dict *sd)
{
    if (!sd)
        return;
    for (int i = 0; i < sd->n; i++) {
        free(sd->tensors[i].name);
        free(sd->tensors[i].data);
    }
    free(sd->tensors);
    sd->tensors = NULL;
    sd->n = 0;
}

int64_t ps_state_dict_numel(const ps_state_dict *sd)
{
    int64_t n = 0;
    for (int i = 0; sd && i < sd->n; i++)
        n += sd->tensors[i].numel;
    return n;
}

/* Convert one rebuilt tensor to contiguous float32: element (i0, ..., i_{n-1}) is storage
 * element offset + sum_k i_k stride_k (PyTorch's strided layout). */
static int convert_tensor(ps_zip *z, int big_endian, const ps_pk *t, const char *name,
                          int64_t *budget, ps_tensor *out)
{
    const ps_pk *st = t->u.tensor.storage;
    ps_pk_elem elem = st->u.storage.elem;
    if (elem == PS_EL_NONE)
        return ps_error(PS_ERR_UNSUPPORTED, "tensor '%s': storage type not supported", name);
    char ename[300];
    snprintf(ename, sizeof ename, "data/%s", st->u.storage.key);
    ps_zip_entry *e = ps_zip_find(z, ename);
    if (!e)
        return ps_error(PS_ERR_FORMAT, "tensor '%s': storage '%s' is missing from the archive",
                        name, ename);
    size_t esz = ps_pk_elem_size(elem);
    uint64_t avail = e->size / esz;
    int nd = t->u.tensor.ndim;
    int64_t numel = 1, maxidx = t->u.tensor.offset;
    for (int k = 0; k < nd; k++) {
        int64_t s = t->u.tensor.size[k];
        if (s && numel > INT64_MAX / s)
            return ps_error(PS_ERR_FORMAT, "tensor '%s': size overflows", name);
        numel *= s;
    }
    if (numel) {
        for (int k = 0; k < nd; k++) {
            int64_t s = t->u.tensor.size[k], str = t->u.tensor.stride[k];
            if (str && s - 1 > (INT64_MAX - maxidx) / str)
                return ps_error(PS_ERR_FORMAT, "tensor '%s': strides overflow", name);
            maxidx += (s - 1) * str;
        }
        if ((uint64_t)maxidx >= avail)
            return ps_error(PS_ERR_FORMAT, "tensor '%s' reads %s element %lld of storage '%s', "
                            "which holds %llu", name, ps_pk_elem_name(elem),
                            (long long)maxidx, ename, (unsigned long long)avail);
    }
    if (numel > *budget)
        return ps_error(PS_ERR_FORMAT, "tensor '%s': the state dict's tensors hold more elements "
                        "than the file could store (shared or expanded storages beyond %lld "
                        "elements)", name, (long long)PS_NUMEL_SLACK);
    *budget -= numel;
    const uint8_t *data;
    int rc;
    if (numel && (rc = ps_zip_data(z, e, &data)))
        return rc;
    memset(out, 0, sizeof *out);
    out->ndim = nd;
    for (int k = 0; k < nd; k++)
        out->shape[k] = t->u.tensor.size[k];
    out->numel = numel;
    if (!(out->name = ps_strdup(name)) ||
        !(out->data = ps_malloc_array((size_t)(numel ? numel : 1), sizeof(float)))) {
        free(out->name);
        out->name = NULL;
        return PS_ERR_NOMEM;
    }
    if (!numel)
        return PS_OK;
    int contiguous = 1;
    int64_t expect = 1;
    for (int k = nd - 1; k >= 0; k--) {
        if (t->u.tensor.size[k] != 1 && t->u.tensor.stride[k] != expect)
            contiguous = 0;
        expect *= t->u.tensor.size[k];
        if (!contiguous)
            break;
    }
    if (contiguous && elem == PS_EL_F32 && !big_endian) {
        memcpy(out->data, data + (size_t)t->u.tensor.offset * 4, (size_t)numel * 4);
        return PS_OK;
    }
    /* general case: walk the multi-index in row-major order */
    int64_t idx[PS_TENSOR_MAXDIM] = {0};
    int64_t src = t->u.tensor.offset;
    for (int64_t i = 0; i < numel; i++) {
        out->data[i] = (float)ps_pk_elem_get(elem, data, src, big_endian);
        for (int k = nd - 1; k >= 0; k--) {
            if (++idx[k] < t->u.tensor.size[k]) {
                src += t->u.tensor.stride[k];
                break;
            }
            src -= (idx[k] - 1) * t->u.tensor.stride[k];
            idx[k] = 0;
        }
    }
    return PS_OK;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Build the state dict from the decoded archive. */
static int state_dict_from(ps_zip *z, const ps_pk *root, ps_state_dict *out)
{
    int big_endian = 0;
    ps_zip_entry *bo = ps_zip_find(z, "byteorder");
    if (bo) {
        const uint8_t *d;
        int rc = ps_zip_data(z, bo, &d);
        if (rc)
            return rc;
        if (bo->size == 3 && !memcmp(d, "big", 3))
            big_endian = 1;
        else if (!(bo->size == 6 && !memcmp(d, "little", 6)))
            return ps_error(PS_ERR_FORMAT, "byteorder entry is neither 'little' nor 'big'");
    }
    if (!root || root->type != PS_PK_DICT)
        return ps_error(PS_ERR_FORMAT, "the saved object is a %s, not a dict",
                        ps_pk_type_name(root));
    const ps_pk *sd = ps_pk_dict_get(root, "state_dict");
    if (!sd)
        sd = root;
    else if (sd->type != PS_PK_DICT)
        return ps_error(PS_ERR_FORMAT, "'state_dict' is a %s, not a dict", ps_pk_type_name(sd));
    int64_t n = sd->u.dict.n;
    if (n > INT32_MAX / 2)
        return ps_error(PS_ERR_FORMAT, "state dict has too many entries");
    for (int64_t i = 0; i < n; i++) {
        const ps_pk *k = sd->u.dict.keys[i], *v = sd->u.dict.vals[i];
        if (k->type != PS_PK_STR)
            return ps_error(PS_ERR_FORMAT, "state dict key %lld is a %s, not text", (long long)i,
                            ps_pk_type_name(k));
        if (v->type != PS_PK_TENSOR)
            return ps_error(PS_ERR_FORMAT, "state dict entry '%s' is a %s, not a tensor",
                            k->u.str.s, ps_pk_type_name(v));
    }
    /* duplicate keys cannot come from torch.save; refuse them rather than guess */
    char **names = ps_malloc_array((size_t)(n ? n : 1), sizeof *names);
    if (!names)
        return PS_ERR_NOMEM;
    for (int64_t i = 0; i < n; i++)
        names[i] = sd->u.dict.keys[i]->u.str.s;
    qsort(names, (size_t)n, sizeof *names, name_cmp);
    for (int64_t i = 1; i < n; i++) {
        if (!strcmp(names[i - 1], names[i])) {
            int rc = ps_error(PS_ERR_FORMAT, "state dict key '%s' appears twice", names[i]);
            free(names);
            return rc;
        }
    }
    free(names);
    memset(out, 0, sizeof *out);
    out->tensors = ps_calloc((size_t)(n ? n : 1), sizeof *out->tensors);
    if (!out->tensors)
        return PS_ERR_NOMEM;
    int64_t budget = (int64_t)z->len + PS_NUMEL_SLACK;
    for (int64_t i = 0; i < n; i++) {
        int rc = convert_tensor(z, big_endian, sd->u.dict.vals[i], sd->u.dict.keys[i]->u.str.s,
                                &budget, &out->tensors[i]);
        if (rc) {
            ps_state_dict_clear(out);
            return rc;
        }
        out->n++;
    }
    return PS_OK;
}

static int storage_key_cmp(const void *a, const void *b)
{
    return strcmp((*(ps_pk *const *)a)->u.storage.key, (*(ps_pk *const *)b)->u.storage.key);
}

/* One pickle of the legacy stream at buf[*pos..len). */
static int legacy_pickle(const uint8_t *buf, size_t len, size_t *pos, const char *what,
                         ps_pickle **pk, ps_pk **root)
{
    size_t used;
    int rc = ps_pickle_parse_prefix(buf + *pos, len - *pos, what, pk, root, &used);
    if (!rc)
        *pos += used;
    return rc;
}

/* The pre-1.6 torch.save stream (torch/serialization.py _legacy_save): pickles of the magic
 * number, the protocol version (1001), sys_info and the object (persistent ids
 * ('storage', type, key, location, numel, view)), a pickle of the sorted storage keys, then per
 * key an int64 little-endian element count and the elements, little-endian. The storages are
 * presented as a ZIP-like set of entries "data/<key>" so the tensor code is shared. */
static int legacy_open(const uint8_t *buf, size_t len, ps_zip **z, ps_pickle **pk,
                       ps_pk **root)
{
    size_t pos = 0;
    ps_pickle *tmp = NULL;
    ps_pk *v, **sorted = NULL;
    ps_zip_entry *entries = NULL;
    int n = 0, rc;
    *pk = NULL;
    if ((rc = legacy_pickle(buf, len, &pos, "magic number", &tmp, &v)))
        return rc;
    ps_pickle_free(tmp);
    tmp = NULL;
    if ((rc = legacy_pickle(buf, len, &pos, "protocol version", &tmp, &v)))
        return rc;
    int64_t proto = 0;
    int bad = ps_pk_int(v, &proto) || proto != 1001;
    ps_pickle_free(tmp);
    tmp = NULL;
    if (bad)
        return ps_error(PS_ERR_UNSUPPORTED, "legacy checkpoint with protocol version %lld "
                        "(only 1001 is known)", (long long)proto);
    if ((rc = legacy_pickle(buf, len, &pos, "sys_info", &tmp, &v)))
        return rc;
    const ps_pk *le = ps_pk_dict_get(v, "little_endian");
    bad = !le || le->type != PS_PK_BOOL || !le->u.i;
    ps_pickle_free(tmp);
    tmp = NULL;
    if (bad)
        return ps_error(PS_ERR_UNSUPPORTED, "legacy checkpoint written on a big-endian machine");
    if ((rc = legacy_pickle(buf, len, &pos, "object", pk, root)) ||
        (rc = legacy_pickle(buf, len, &pos, "storage keys", &tmp, &v)))
        goto fail;
    if (v->type != PS_PK_LIST)
        goto fail_keys;
    /* storages by key, for their element types */
    int64_t ns = 0;
    for (ps_pk *s = ps_pickle_storages(*pk); s; s = s->u.storage.next)
        ns++;
    if (v->u.seq.n > ns || ns > INT32_MAX / 2)
        goto fail_keys;
    if (!(sorted = ps_malloc_array((size_t)(ns ? ns : 1), sizeof *sorted)) ||
        !(entries = ps_calloc((size_t)(v->u.seq.n ? v->u.seq.n : 1), sizeof *entries))) {
        rc = PS_ERR_NOMEM;
        goto fail;
    }
    ns = 0;
    for (ps_pk *s = ps_pickle_storages(*pk); s; s = s->u.storage.next)
        sorted[ns++] = s;
    qsort(sorted, (size_t)ns, sizeof *sorted, storage_key_cmp);
    for (int64_t i = 0; i < v->u.seq.n; i++) {
        ps_pk *key = v->u.seq.items[i];
        if (key->type != PS_PK_STR)
            goto fail_keys;
        ps_pk probe, *pp = &probe, **hit;
        probe.u.storage.key = key->u.str.s;
        hit = bsearch(&pp, sorted, (size_t)ns, sizeof *sorted, storage_key_cmp);
        if (!hit) {
            rc = ps_error(PS_ERR_FORMAT, "legacy checkpoint: storage '%s' is not referenced by "
                          "the object", key->u.str.s);
            goto fail;
        }
        size_t esz = ps_pk_elem_size((*hit)->u.storage.elem);
        if (!esz) {
            rc = ps_error(PS_ERR_UNSUPPORTED, "legacy checkpoint: storage '%s' has an "
                          "unsupported type", key->u.str.s);
            goto fail;
        }
        if (len - pos < 8) {
            rc = ps_error(PS_ERR_FORMAT, "legacy checkpoint truncated before storage '%s'",
                          key->u.str.s);
            goto fail;
        }
        uint64_t numel = 0;
        for (int k = 0; k < 8; k++)
            numel |= (uint64_t)buf[pos + k] << (8 * k);
        pos += 8;
        if (numel > (len - pos) / esz) {
            rc = ps_error(PS_ERR_FORMAT, "legacy checkpoint: storage '%s' of %llu elements "
                          "extends beyond the end of the file", key->u.str.s,
                          (unsigned long long)numel);
            goto fail;
        }
        if (!(entries[n].name = ps_asprintf("data/%s", key->u.str.s))) {
            rc = PS_ERR_NOMEM;
            goto fail;
        }
        entries[n].offset = pos;
        entries[n].size = numel * esz;
        n++;
        pos += numel * esz;
    }
    ps_pickle_free(tmp);
    tmp = NULL;
    free(sorted);
    return ps_zip_from_entries(buf, len, entries, n, z);
fail_keys:
    rc = ps_error(PS_ERR_FORMAT, "legacy checkpoint: the storage key list is malformed");
fail:
    for (int i = 0; i < n; i++)
        free(entries[i].name);
    free(entries);
    free(sorted);
    ps_pickle_free(tmp);
    ps_pickle_free(*pk);
    *pk = NULL;
    return rc;
}

/* The state dict of a torch.save file in memory, and the saved dict's 'epoch' (-1 if none). */
static int parse_checkpoint(const void *buf, size_t len, const char *name, ps_state_dict *out,
                            int64_t *epoch)
{
    ps_zip *z = NULL;
    ps_pickle *pk = NULL;
    ps_pk *root = NULL;
    const uint8_t *pkl;
    memset(out, 0, sizeof *out);
    int rc;
    if (ps_torch_is_legacy(buf, len))
        rc = legacy_open(buf, len, &z, &pk, &root);
    else if (!(rc = ps_zip_open(buf, len, &z))) {
        ps_zip_entry *e = ps_zip_find(z, "data.pkl");
        if (!e)
            rc = ps_error(PS_ERR_FORMAT, "zip archive has no %sdata.pkl: not a torch.save file",
                          z->prefix);
        else if (!(rc = ps_zip_data(z, e, &pkl)))
            rc = ps_pickle_parse(pkl, (size_t)e->size, "data.pkl", &pk, &root);
    }
    if (!rc)
        rc = state_dict_from(z, root, out);
    *epoch = -1;
    if (!rc) {
        const ps_pk *e = ps_pk_dict_get(root, "epoch");
        if (e && e->type == PS_PK_INT)
            *epoch = e->u.i;
    }
    ps_pickle_free(pk);
    ps_zip_free(z);
    if (rc)
        return ps_error_context(rc, "%s", name ? name : "checkpoint");
    return PS_OK;
}

int ps_checkpoint_parse_state_dict(const void *buf, size_t len, const char *name,
                                   ps_state_dict *out)
{
    int64_t epoch;
    return parse_checkpoint(buf, len, name, out, &epoch);
}

static int read_checkpoint(const char *path, ps_state_dict *out, int64_t *epoch)
{
    ps_mapped_file m;
    memset(out, 0, sizeof *out);
    int rc = ps_map_file(path, &m);
    if (rc)
        return rc;
    rc = parse_checkpoint(m.data, m.size, path, out, epoch);
    ps_unmap_file(&m);
    return rc;
}

int ps_checkpoint_read_state_dict(const char *path, ps_state_dict *out)
{
    int64_t epoch;
    return read_checkpoint(path, out, &epoch);
}

/* ---- plans --------------------------------------------------------------------------------- */
static int plans_int(const ps_pk *d, const char *key, int lo, int hi, int *out)
{
    int64_t v;
    const ps_pk *x = ps_pk_dict_get(d, key);
    if (!x)
        return ps_error(PS_ERR_FORMAT, "plans have no '%s'", key);
    if (ps_pk_int(x, &v))
        return ps_error(PS_ERR_FORMAT, "plans '%s' is a %s, not a whole number", key,
                        ps_pk_type_name(x));
    if (v < lo || v > hi)
        return ps_error(PS_ERR_FORMAT, "plans '%s' = %lld is outside %d..%d", key, (long long)v,
                        lo, hi);
    *out = (int)v;
    return PS_OK;
}

/* A list of `count` triples of whole numbers in lo..hi (pool / conv kernel sizes). */
static int plans_triples(const ps_pk *stage, const char *key, int lo, int hi, int maxcount,
                         int (*out)[3], int *count)
{
    const ps_pk *x = ps_pk_dict_get(stage, key);
    if (!x)
        return ps_error(PS_ERR_FORMAT, "plans stage has no '%s'", key);
    if (x->type == PS_PK_NDARRAY && x->u.nd.built && x->u.nd.data && x->u.nd.ndim == 2 &&
        x->u.nd.shape[1] == 3 && !x->u.nd.fortran) {
        if (x->u.nd.shape[0] > maxcount)
            return ps_error(PS_ERR_FORMAT, "plans '%s' has more than %d entries", key, maxcount);
        for (int64_t i = 0; i < x->u.nd.shape[0]; i++)
            for (int a = 0; a < 3; a++) {
                double v = ps_pk_elem_get(x->u.nd.elem, x->u.nd.data, i * 3 + a,
                                          x->u.nd.big_endian);
                if (!(v >= lo && v <= hi && v == floor(v)))
                    return ps_error(PS_ERR_FORMAT, "plans '%s' entry %lld is not whole numbers "
                                    "in %d..%d", key, (long long)i, lo, hi);
                out[i][a] = (int)v;
            }
        *count = (int)x->u.nd.shape[0];
        return PS_OK;
    }
    if (x->type != PS_PK_LIST && x->type != PS_PK_TUPLE)
        return ps_error(PS_ERR_FORMAT, "plans '%s' is a %s, not a list", key, ps_pk_type_name(x));
    if (x->u.seq.n > maxcount)
        return ps_error(PS_ERR_FORMAT, "plans '%s' has %lld entries, at most %d are supported",
                        key, (long long)x->u.seq.n, maxcount);
    for (int64_t i = 0; i < x->u.seq.n; i++) {
        double v[3];
        int n = 0;
        if (ps_pk_numbers(x->u.seq.items[i], v, 3, &n) || n != 3)
            return ps_error(PS_ERR_FORMAT, "plans '%s' entry %lld is not 3 numbers (only 3D "
                            "models are supported)", key, (long long)i);
        for (int a = 0; a < 3; a++) {
            if (!(v[a] >= lo && v[a] <= hi && v[a] == floor(v[a])))
                return ps_error(PS_ERR_FORMAT, "plans '%s' entry %lld has %g, expected a whole "
                                "number in %d..%d", key, (long long)i, v[a], lo, hi);
            out[i][a] = (int)v[a];
        }
    }
    *count = (int)x->u.seq.n;
    return PS_OK;
}

static int plans_vec3(const ps_pk *stage, const char *key, double lo, double *out)
{
    const ps_pk *x = ps_pk_dict_get(stage, key);
    int n = 0;
    if (!x)
        return ps_error(PS_ERR_FORMAT, "plans stage has no '%s'", key);
    if (ps_pk_numbers(x, out, 3, &n) || n != 3)
        return ps_error(PS_ERR_FORMAT, "plans '%s' is not 3 numbers (only 3D models are "
                        "supported)", key);
    for (int a = 0; a < 3; a++)
        if (!(out[a] >= lo && out[a] < 1e9))
            return ps_error(PS_ERR_FORMAT, "plans '%s' has the invalid value %g", key, out[a]);
    return PS_OK;
}

/* A permutation of (0, 1, 2), identity when absent. */
static int plans_perm(const ps_pk *plans, const char *key, int *out)
{
    const ps_pk *x = ps_pk_dict_get(plans, key);
    out[0] = 0, out[1] = 1, out[2] = 2;
    if (!x)
        return PS_OK;
    double v[3];
    int n = 0;
    if (ps_pk_numbers(x, v, 3, &n) || n != 3)
        return ps_error(PS_ERR_FORMAT, "plans '%s' is not 3 numbers", key);
    int seen = 0;
    for (int a = 0; a < 3; a++) {
        if (!(v[a] == 0 || v[a] == 1 || v[a] == 2) || (seen & (1 << (int)v[a])))
            return ps_error(PS_ERR_FORMAT, "plans '%s' is not a permutation of 0, 1, 2", key);
        seen |= 1 << (int)v[a];
        out[a] = (int)v[a];
    }
    return PS_OK;
}

/* Entry `m` of a dict keyed by integers (modality, stage) or of a list. */
static const ps_pk *indexed_entry(const ps_pk *x, int m)
{
    if (!x)
        return NULL;
    if (x->type == PS_PK_DICT)
        return ps_pk_dict_get_int(x, m);
    if ((x->type == PS_PK_LIST || x->type == PS_PK_TUPLE) && m < x->u.seq.n)
        return x->u.seq.items[m];
    return NULL;
}

/* Trainer name: info['name'], else the class name in info['class'] ("<class 'a.b.Name'>"). */
static void trainer_name(const ps_pk *info, char *out, size_t n)
{
    const ps_pk *name = ps_pk_dict_get(info, "name"), *cls = ps_pk_dict_get(info, "class");
    out[0] = 0;
    if (name && name->type == PS_PK_STR) {
        snprintf(out, n, "%s", name->u.str.s);
    } else if (cls && cls->type == PS_PK_STR) {
        const char *s = cls->u.str.s, *dot = strrchr(s, '.');
        const char *start = dot ? dot + 1 : s;
        size_t len = strcspn(start, "'>");
        snprintf(out, n, "%.*s", (int)len, start);
    }
}

int ps_plans_from_pk(const ps_pk *info, const ps_pk *plans, ps_plans *out)
{
    int rc;
    memset(out, 0, sizeof *out);
    trainer_name(info, out->trainer, sizeof out->trainer);
    if (!plans || plans->type != PS_PK_DICT)
        return ps_error(PS_ERR_FORMAT, "plans are a %s, not a dict", ps_pk_type_name(plans));
    if ((rc = plans_int(plans, "num_classes", 1, 10000, &out->num_classes)) ||
        (rc = plans_int(plans, "num_modalities", 1, 8, &out->num_modalities)) ||
        (rc = plans_int(plans, "base_num_features", 1, 4096, &out->base_num_features)))
        return rc;
    out->num_input_channels = out->num_modalities;

    const ps_pk *pps = ps_pk_dict_get(plans, "plans_per_stage");
    if (!pps || (pps->type != PS_PK_DICT && pps->type != PS_PK_LIST))
        return ps_error(PS_ERR_FORMAT, "plans have no 'plans_per_stage' dict");
    out->num_stages = (int)(pps->type == PS_PK_DICT ? pps->u.dict.n : pps->u.seq.n);
    /* init = (plans_file, fold, output_folder, dataset_directory, batch_dice, stage, ...) */
    const ps_pk *init = ps_pk_dict_get(info, "init");
    int64_t stage = 0;
    if (init) {
        if ((init->type != PS_PK_TUPLE && init->type != PS_PK_LIST) || init->u.seq.n < 6 ||
            ps_pk_int(init->u.seq.items[5], &stage))
            return ps_error(PS_ERR_FORMAT, "'init' is not a tuple whose 6th item is the stage");
    } else if (out->num_stages > 1) {
        return ps_error(PS_ERR_FORMAT, "no 'init' entry to tell which of the %d stages the "
                        "model was trained on", out->num_stages);
    }
    if (stage < 0 || stage > 64)
        return ps_error(PS_ERR_FORMAT, "stage %lld is out of range", (long long)stage);
    out->stage = (int)stage;
    const ps_pk *st = indexed_entry(pps, out->stage);
    if (!st || st->type != PS_PK_DICT)
        return ps_error(PS_ERR_FORMAT, "plans_per_stage has no stage %d", out->stage);

    double patch[3];
    int npool = 0, nconv = 0;
    if ((rc = plans_vec3(st, "patch_size", 1, patch)) ||
        (rc = plans_vec3(st, "current_spacing", 1e-12, out->spacing)) ||
        (rc = plans_triples(st, "pool_op_kernel_sizes", 1, 16, PS_MAX_STAGES, out->pool_kernels,
                            &npool)) ||
        (rc = plans_triples(st, "conv_kernel_sizes", 1, 15, PS_MAX_STAGES + 1, out->conv_kernels,
                            &nconv)))
        return ps_error_context(rc, "plans stage %d", out->stage);
    for (int a = 0; a < 3; a++) {
        if (patch[a] != floor(patch[a]) || patch[a] > 1e6)
            return ps_error(PS_ERR_FORMAT, "plans stage %d: patch size %g is not a whole number",
                            out->stage, patch[a]);
        out->patch_size[a] = (int)patch[a];
    }
    if (npool < 1 || nconv != npool + 1)
        return ps_error(PS_ERR_FORMAT, "plans stage %d: %d pooling steps need %d conv kernel "
                        "sizes, found %d", out->stage, npool, npool + 1, nconv);
    out->num_pool = npool;
    for (int a = 0; a < 3; a++) {
        int64_t prod = 1;
        for (int d = 0; d < npool; d++)
            prod *= out->pool_kernels[d][a];
        if (out->patch_size[a] % prod)
            return ps_error(PS_ERR_FORMAT, "plans stage %d: patch size %d is not divisible by "
                            "the total pooling %lld along axis %d", out->stage,
                            out->patch_size[a], (long long)prod, a);
    }
    for (int d = 0; d < nconv; d++)
        for (int a = 0; a < 3; a++)
            if (out->conv_kernels[d][a] != 1 && out->conv_kernels[d][a] != 3)
                return ps_error(PS_ERR_UNSUPPORTED, "plans stage %d: conv kernel size %d (only "
                                "1 and 3 occur in nnU-Net v1)", out->stage,
                                out->conv_kernels[d][a]);

    const ps_pk *norm = ps_pk_dict_get(plans, "normalization_schemes");
    const ps_pk *mask = ps_pk_dict_get(plans, "use_mask_for_norm");
    const ps_pk *props = ps_pk_dict_get(plans, "dataset_properties");
    const ps_pk *inten = ps_pk_dict_get(props, "intensityproperties");
    for (int m = 0; m < out->num_modalities; m++) {
        const ps_pk *s = indexed_entry(norm, m);
        if (!s || s->type != PS_PK_STR)
            return ps_error(PS_ERR_FORMAT, "plans 'normalization_schemes' has no scheme for "
                            "modality %d", m);
        if (s->u.str.len >= sizeof out->normalization[m])
            return ps_error(PS_ERR_FORMAT, "plans normalization scheme '%.40s' is too long",
                            s->u.str.s);
        memcpy(out->normalization[m], s->u.str.s, s->u.str.len + 1);
        const ps_pk *mk = indexed_entry(mask, m);
        int64_t b;
        if (mk && !ps_pk_int(mk, &b))
            out->use_mask_for_norm[m] = b != 0;
        const ps_pk *ip = indexed_entry(inten, m);
        struct ps_plans_intensity *pi = &out->intensity[m];
        if (ip && !ps_pk_number(ps_pk_dict_get(ip, "mean"), &pi->mean) &&
            !ps_pk_number(ps_pk_dict_get(ip, "sd"), &pi->sd) &&
            !ps_pk_number(ps_pk_dict_get(ip, "percentile_00_5"), &pi->percentile_00_5) &&
            !ps_pk_number(ps_pk_dict_get(ip, "percentile_99_5"), &pi->percentile_99_5))
            pi->present = 1;
        else
            memset(pi, 0, sizeof *pi);
    }
    if ((rc = plans_perm(plans, "transpose_forward", out->transpose_forward)) ||
        (rc = plans_perm(plans, "transpose_backward", out->transpose_backward)))
        return rc;
    return PS_OK;
}

/* ---- model folder --------------------------------------------------------------------------- */
void ps_model_free(ps_model *m)
{
    if (!m)
        return;
    ps_state_dict_clear(&m->sd);
    free(m->dir);
    free(m->checkpoint_path);
    free(m);
}

static int file_exists(const char *path)
{
    struct stat st;
    return !stat(path, &st) && S_ISREG(st.st_mode);
}

/* Decode a whole pickle file. */
static int read_pickle_file(const char *path, ps_pickle **pk, ps_pk **root)
{
    ps_mapped_file m;
    int rc = ps_map_file(path, &m);
    if (rc)
        return rc;
    rc = ps_pickle_parse(m.data, m.size, path, pk, root);
    ps_unmap_file(&m);
    return rc;
}

int ps_model_load(const char *model_dir, int fold, const char *checkpoint, ps_model **out)
{
    *out = NULL;
    if (!model_dir || fold < -1)
        return ps_error(PS_ERR_ARG, "ps_model_load: invalid model folder or fold");
    if (!checkpoint)
        checkpoint = "model_final_checkpoint";
    if (!*checkpoint || strchr(checkpoint, '/'))
        return ps_error(PS_ERR_ARG, "checkpoint name '%s' is not a plain file name", checkpoint);
    struct stat st;
    if (stat(model_dir, &st) || !S_ISDIR(st.st_mode))
        return ps_error(PS_ERR_IO, "%s: model folder does not exist or is not a folder",
                        model_dir);
    char folddir[64];
    if (fold < 0)
        snprintf(folddir, sizeof folddir, "all");
    else
        snprintf(folddir, sizeof folddir, "fold_%d", fold);
    ps_model *m = ps_calloc(1, sizeof *m);
    char *pkl_path = NULL, *plans_path = NULL;
    ps_pickle *info_pk = NULL, *plans_pk = NULL;
    ps_pk *info = NULL, *plans = NULL;
    int rc = PS_OK;
    if (!m)
        return PS_ERR_NOMEM;
    m->fold = fold;
    if (!(m->dir = ps_strdup(model_dir)) ||
        !(m->checkpoint_path = ps_asprintf("%s/%s/%s.model", model_dir, folddir, checkpoint)) ||
        !(pkl_path = ps_asprintf("%s.pkl", m->checkpoint_path)) ||
        !(plans_path = ps_asprintf("%s/plans.pkl", model_dir))) {
        rc = PS_ERR_NOMEM;
        goto done;
    }
    if (!file_exists(m->checkpoint_path)) {
        rc = ps_error(PS_ERR_IO, "%s: checkpoint not found (is %s a trained nnU-Net v1 model "
                      "folder with %s?)", m->checkpoint_path, model_dir, folddir);
        goto done;
    }
    if (!file_exists(pkl_path)) {
        rc = ps_error(PS_ERR_IO, "%s: not found; nnU-Net writes it next to the checkpoint and "
                      "it holds the plans and the stage", pkl_path);
        goto done;
    }
    if ((rc = read_pickle_file(pkl_path, &info_pk, &info)))
        goto done;
    if (info->type != PS_PK_DICT) {
        rc = ps_error(PS_ERR_FORMAT, "%s: holds a %s, not the trainer's dict", pkl_path,
                      ps_pk_type_name(info));
        goto done;
    }
    const char *plans_from = pkl_path;
    plans = ps_pk_dict_get(info, "plans");
    if (!plans) {
        if (!file_exists(plans_path)) {
            rc = ps_error(PS_ERR_FORMAT, "%s has no 'plans' and %s does not exist", pkl_path,
                          plans_path);
            goto done;
        }
        if ((rc = read_pickle_file(plans_path, &plans_pk, &plans)))
            goto done;
        plans_from = plans_path;
    }
    if ((rc = ps_plans_from_pk(info, plans, &m->plans))) {
        rc = ps_error_context(rc, "%s", plans_from);
        goto done;
    }
    if ((rc = read_checkpoint(m->checkpoint_path, &m->sd, &m->epoch)))
        goto done;
    for (int i = 0; i < m->sd.n; i++)
        if (!strncmp(m->sd.tensors[i].name, "self_atten.", 11))
            m->has_attention = 1;
done:
    ps_pickle_free(info_pk);
    ps_pickle_free(plans_pk);
    free(pkl_path);
    free(plans_path);
    if (rc) {
        ps_model_free(m);
        return rc;
    }
    *out = m;
    return PS_OK;
}
