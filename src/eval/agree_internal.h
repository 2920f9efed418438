/* agree_internal.h - what agreement.c and fuse.c share (private to src/eval). */
#ifndef PS_AGREE_INTERNAL_H
#define PS_AGREE_INTERNAL_H

#include "ps_eval.h"

/* One label-map column of the manifest seen as a rater session. */
typedef struct agree_slot {
    char name[96];    /* "ref" (or the --ref-name), "A", "A:2"              */
    char base[80];    /* the rater: "A"                                     */
    char session[16]; /* "1" for ref and plain rater:A columns              */
    int rater;        /* index into m->raters, or -1 for the ref column     */
} agree_slot;

/* Every rater session of the manifest: the ref column (when present) and every rater: column. */
int agree_slots(const ps_manifest *m, const char *ref_name, agree_slot **out, int *n);
/* Indices of the inter raters: `names` (each must be a slot; PS_ERR_ARG otherwise, listing the
 * available names), or every session-1 slot when names is NULL. */
int agree_select(const agree_slot *s, int n, const char *const *names, int nnames, int **sel,
                 int *nsel);
/* Path of slot s for case i, or NULL when the cell is empty. */
const char *agree_slot_path(const ps_manifest *m, int64_t i, const agree_slot *s);
/* "DIR/NAME.csv" (suffix from the format) into buf. */
void agree_out_path(char *buf, size_t n, const char *dir, const char *name, ps_table_format f);

/* The option helpers of ps_agree_options_set / ps_fuse_options_set. */
int agree_parse_raters(const char *opt, const char *value, char ***owned,
                       const char *const **raters, int *n);
int agree_parse_double(const char *opt, const char *value, double lo, double hi, double *out);
void agree_free_list(char **list);

#endif
