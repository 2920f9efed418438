/* ckpt_internal.h - readers behind ps_model_load (private to src/infer, its tests and fuzzers):
 * a ZIP reader for torch.save archives and a pickle decoder that builds a plain value tree.
 *
 * Both parse untrusted bytes: every length, offset and index is checked against the buffer
 * before use, memory use is linear in the input size, nothing recurses on input structure,
 * and nothing is ever executed (a pickled "callable" is only a name).
 */
#ifndef PS_CKPT_INTERNAL_H
#define PS_CKPT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "ps_infer.h"

/* ---- read-only file mapping ------------------------------------------------------------ */
typedef struct ps_mapped_file {
    const uint8_t *data;
    size_t size;
    void *map_;     /* mmap()ed region, or NULL */
} ps_mapped_file;

/* Map `path` read-only; an empty file is mapped as size 0 (data points to a static byte). */
int ps_map_file(const char *path, ps_mapped_file *out);
void ps_unmap_file(ps_mapped_file *m);

/* ---- ZIP (torch.save >= 1.6) --------------------------------------------------------------- */
typedef struct ps_zip_entry {
    char *name;           /* full name in the archive                                   */
    uint64_t offset;      /* of the stored data in the buffer                           */
    uint64_t size;
    uint32_t crc32;
    int crc_checked;      /* the CRC of the data has been verified                      */
} ps_zip_entry;

typedef struct ps_zip {
    const uint8_t *buf;   /* not owned                                                  */
    size_t len;
    int n;
    ps_zip_entry *entries;
    char *prefix;         /* "<folder>/" of the first entry ("" when it has none)         */
} ps_zip;

/* Parse the central directory of the archive in buf[0..len). Every entry must be stored
 * (method 0) and lie inside the buffer. PS_ERR_FORMAT on anything else; PS_ERR_UNSUPPORTED for
 * a pre-1.6 PyTorch checkpoint (a bare pickle stream), with a message that says so. */
int ps_zip_open(const uint8_t *buf, size_t len, ps_zip **out);
/* A pre-1.6 torch.save stream: starts with the pickled magic number 0x1950a86a20f9469cfc6c. */
int ps_torch_is_legacy(const uint8_t *buf, size_t len);
/* An archive of already located entries (the storages of a legacy stream); `entries` is taken
 * over (names included) and sorted; their CRCs count as checked. */
int ps_zip_from_entries(const uint8_t *buf, size_t len, ps_zip_entry *entries, int n,
                        ps_zip **out);
void ps_zip_free(ps_zip *z);
/* Entry "<prefix><name>", or NULL. */
ps_zip_entry *ps_zip_find(ps_zip *z, const char *name);
/* Pointer to the entry's bytes after verifying its CRC-32 (once). */
int ps_zip_data(ps_zip *z, ps_zip_entry *e, const uint8_t **data);
/* CRC-32 (ISO 3309 / zlib polynomial 0xEDB88320). */
uint32_t ps_crc32(uint32_t crc, const uint8_t *p, size_t n);

/* ---- pickle value tree ------------------------------------------------------------------ */
typedef enum ps_pk_type {
    PS_PK_NONE = 0,
    PS_PK_BOOL,
    PS_PK_INT,        /* fits int64                                                     */
    PS_PK_BIGINT,     /* a LONG too wide for int64 (value not kept)                       */
    PS_PK_FLOAT,
    PS_PK_STR,        /* UTF-8                                                           */
    PS_PK_BYTES,
    PS_PK_TUPLE,
    PS_PK_LIST,
    PS_PK_SET,
    PS_PK_DICT,       /* also collections.OrderedDict                                     */
    PS_PK_GLOBAL,     /* a class or function name: module + name                          */
    PS_PK_OBJECT,     /* result of calling an unknown global: remembers callable and args  */
    PS_PK_STORAGE,    /* torch persistent id ('storage', type, key, location, numel)       */
    PS_PK_TENSOR,     /* torch._utils._rebuild_tensor_v2 / _rebuild_parameter             */
    PS_PK_NDARRAY,    /* numpy.core.multiarray._reconstruct + BUILD                       */
    PS_PK_DTYPE,      /* numpy.dtype + BUILD                                              */
} ps_pk_type;

/* Element types of torch storages and numpy arrays. */
typedef enum ps_pk_elem {
    PS_EL_NONE = 0,
    PS_EL_F16, PS_EL_BF16, PS_EL_F32, PS_EL_F64,
    PS_EL_I8, PS_EL_U8, PS_EL_I16, PS_EL_U16, PS_EL_I32, PS_EL_U32, PS_EL_I64, PS_EL_U64,
    PS_EL_BOOL,
} ps_pk_elem;
size_t ps_pk_elem_size(ps_pk_elem t);
const char *ps_pk_elem_name(ps_pk_elem t);
/* Element `i` of a little- (big_endian = 0) or big-endian array as double. */
double ps_pk_elem_get(ps_pk_elem t, const uint8_t *p, int64_t i, int big_endian);

typedef struct ps_pk ps_pk;
struct ps_pk {
    ps_pk_type type;
    union {
        int64_t i;                                   /* BOOL, INT                      */
        double f;                                    /* FLOAT                          */
        struct { char *s; size_t len; } str;         /* STR, BYTES (NUL-terminated)    */
        struct { ps_pk **items; int64_t n, cap; } seq;            /* TUPLE, LIST, SET  */
        struct { ps_pk **keys, **vals; int64_t n, cap; } dict;    /* DICT             */
        struct { char *module, *name; } global;                    /* GLOBAL           */
        struct { ps_pk *callable, *args, *state, *items; } obj;    /* OBJECT           */
        struct {
            ps_pk_elem elem;
            char *key;
            int64_t numel;
            ps_pk *next;      /* every storage of a pickle, in order of appearance        */
        } storage;                                                         /* STORAGE     */
        struct {
            ps_pk *storage;
            int64_t offset;
            int ndim;
            int64_t size[PS_TENSOR_MAXDIM], stride[PS_TENSOR_MAXDIM];
        } tensor;
        struct {
            ps_pk_elem elem;
            int big_endian, fortran, built;
            int ndim;
            int64_t shape[PS_TENSOR_MAXDIM];
            int64_t count;
            const uint8_t *data;                     /* count elements (arena copy)    */
        } nd;                                        /* NDARRAY                        */
        struct { ps_pk_elem elem; int big_endian; } dtype;         /* DTYPE            */
    } u;
};

typedef struct ps_pickle ps_pickle;   /* owns the arena of all nodes */

/* Limits (documented in docs/checkpoints.md). */
#define PS_PK_MAX_MARK_DEPTH 10000
#define PS_PK_MAX_MEMO (1 << 24)

/* Decode one pickle (protocols 2-5) from buf[0..len). `what` names the input in messages.
 * *root is valid until ps_pickle_free(). */
int ps_pickle_parse(const uint8_t *buf, size_t len, const char *what, ps_pickle **out,
                    ps_pk **root);
void ps_pickle_free(ps_pickle *p);
/* The same for a pickle followed by other data (the legacy torch.save stream is several
 * pickles and raw storages in a row): *consumed = bytes up to and including STOP. */
int ps_pickle_parse_prefix(const uint8_t *buf, size_t len, const char *what, ps_pickle **out,
                           ps_pk **root, size_t *consumed);
/* First storage (persistent id) of the pickle; follow u.storage.next for the others. */
ps_pk *ps_pickle_storages(const ps_pickle *p);

/* Navigation helpers (NULL / error when absent or of another type). */
ps_pk *ps_pk_dict_get(const ps_pk *d, const char *key);   /* str key */
ps_pk *ps_pk_dict_get_int(const ps_pk *d, int64_t key);   /* int key */
const char *ps_pk_type_name(const ps_pk *v);
/* A number (bool, int, float, 0-d or 1-element numpy array) as double / int. */
int ps_pk_number(const ps_pk *v, double *out);
int ps_pk_int(const ps_pk *v, int64_t *out);
/* A flat sequence of numbers (list, tuple or 1-D numpy array) of at most `max` elements. */
int ps_pk_numbers(const ps_pk *v, double *out, int max, int *n);

/* ---- plans ------------------------------------------------------------------------------- */
/* Fill `out` from the decoded .model.pkl dict `info` (may be NULL: stage 0, no trainer name)
 * and the plans dict. PS_ERR_FORMAT naming the plans entry that is missing or invalid. */
int ps_plans_from_pk(const ps_pk *info, const ps_pk *plans, ps_plans *out);

#endif
