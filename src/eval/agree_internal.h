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

/* ---- agreement, one case at a time (agreement.c), for the drivers of agree_dist.c --------
 * A job is the manifest, the options and the rater slots; agree_case_bytes computes one case
 * into a record (the cells of its rows in each table and its counts), a pure function of the
 * case: any MPI rank computes it, the journal keeps it, and agree_out_case writes it into
 * the tables. The job and the options must outlive their users; a job is read-only once
 * made, so several threads or ranks may compute cases of one job. */
typedef struct agree_job agree_job;
/* PS_ERR_ARG for unknown raters or fewer than two (the messages of ps_agreement_run). */
int agree_job_create(const ps_manifest *m, const ps_agree_options *opt, agree_job **out);
void agree_job_free(agree_job *j);
int agree_job_nraters(const agree_job *j);          /* inter raters */
const char *agree_job_rater(const agree_job *j, int i);
/* Bytes on disk of the label maps case ci reads (the shard cost). */
int64_t agree_case_bytes_on_disk(const agree_job *j, int64_t ci);
/* *h updated with every case's id and the paths of the label maps it reads. */
int agree_job_hash(const agree_job *j, uint64_t (*fnv)(uint64_t, const void *, size_t),
                   uint64_t *h);
/* The record of case ci (malloc'd). A failing case is error rows in it; an error return is
 * fatal (out of memory). */
int agree_case_bytes(agree_job *j, int64_t ci, const ps_context *ctx, unsigned char **bytes,
                     size_t *len);

/* The tables of a run: out_dir/pairs, cases (+ sessions, models by the options).EXT, written
 * atomically (dir NULL: none), and with keep a CSV copy in memory for agree_out_close. */
typedef struct agree_out agree_out;
int agree_out_open(const agree_job *j, const char *dir, int keep, agree_out **out);
/* Write case ci's record into the tables; its counts are added to *sum (cases + 1). */
int agree_out_case(agree_out *o, int64_t ci, const unsigned char *b, size_t n,
                   ps_agree_summary *sum);
/* Commit the tables (abort them when rc != 0) and, with tables non-NULL and keep, parse the
 * copies into *tables (with the inter raters and the region). Frees o; returns the first
 * error (rc included). */
int agree_out_close(agree_out *o, int rc, ps_agree_tables *tables);

/* The options and the tables' format as TAB-separated name=value pairs (the journal's
 * identity of a run), and back:
 * agree_settings_apply modifies `text`, which must outlive o (ref-name points into it); the
 * pairs that are no option of ps_agree_options_set go to *rest (malloc'd, TAB-separated). */
char *agree_settings_text(const ps_agree_options *o);
int agree_settings_apply(char *text, ps_agree_options *o, char **rest);

#endif
