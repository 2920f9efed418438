/* journal_internal.h - the run journal (journal.c), shared by dist_run.c and merge.c; not
 * installed. The file layout is described in journal.c, its use in ps_eval_dist.h. */
#ifndef PS_EVAL_JOURNAL_INTERNAL_H
#define PS_EVAL_JOURNAL_INTERNAL_H

#include "ps_eval_dist.h"

#include <stdint.h>
#include <stdio.h>

uint64_t ps_jr_fnv(uint64_t h, const void *p, size_t n);
int ps_jr_file_hash(const char *path, uint64_t *out);
/* The journal of a shard argument: the path itself when it ends in ".journal", else
 * "<path>.journal" (malloc'd). */
char *ps_jr_journal_name(const char *p);
uint64_t ps_jr_plan_hash(const ps_eval_plan *plan);
/* Settings as TAB-separated name=value pairs that ps_jr_settings_apply gives back. */
char *ps_jr_settings_text(const ps_eval_settings *s);
int ps_jr_settings_apply(const char *text, ps_eval_settings *s);

typedef struct ps_jr_header {
    char *version, *manifest, *format, *models, *settings;
    uint64_t manifest_hash, plan_hash;
    int64_t njobs;
    int shard_index, shard_count;
} ps_jr_header;

int ps_jr_header_make(const ps_eval_plan *plan, const ps_eval_settings *s,
                      const char *manifest, const char *const *models, int nmodels,
                      ps_table_format fmt, int shard_index, int shard_count, ps_jr_header *h);
int ps_jr_header_write(FILE *f, const ps_jr_header *h);
void ps_jr_header_clear(ps_jr_header *h);
/* NULL when the identities agree (version, manifest, plan, settings, format), else a text
 * in buf saying what differs. Shards are not compared. */
const char *ps_jr_header_differs(const ps_jr_header *journal, const ps_jr_header *now,
                                 char *buf, size_t n);

typedef struct ps_jr_record {
    int64_t job;
    unsigned char *payload;
    size_t len;
} ps_jr_record;

typedef struct ps_jr_contents {
    ps_jr_header h;
    ps_jr_record *rec;    /* in file order */
    int64_t nrec;
    int64_t valid_bytes;  /* header and whole records */
    int64_t torn_bytes;   /* after them (a record cut short by a crash): dropped */
} ps_jr_contents;

int ps_jr_read(const char *path, ps_jr_contents **out);
void ps_jr_contents_free(ps_jr_contents *c);

/* The merge's coverage check over the shards' journals c[0..n) (named names[]): where[u]
 * (nunits entries, filled) = shard * 2^32 + record of unit u (a job or a case: rec.job), the
 * last of a shard's records for it, or -1. A unit in two shards, or a unit that is needed
 * (needed == NULL: every unit) and in none, is PS_ERR_ARG naming up to 20 units by
 * unit_name; `what` names the units ("evaluation(s)", "case(s)"). */
typedef void (*ps_jr_unit_name_fn)(int64_t unit, char *buf, size_t size, void *user);
int ps_jr_coverage(ps_jr_contents *const *c, int n, const char *const *names, int64_t nunits,
                   const char *what, int (*needed)(int64_t unit, void *user),
                   ps_jr_unit_name_fn unit_name, void *user, int64_t *where);

typedef struct ps_jr_writer ps_jr_writer;
/* fresh != NULL: create or truncate and write that header; else append after keep_bytes. */
int ps_jr_writer_open(const char *path, const ps_jr_header *fresh, int64_t keep_bytes,
                      ps_jr_writer **out);
int ps_jr_writer_append(ps_jr_writer *w, int64_t job, const unsigned char *payload, size_t n);
int ps_jr_writer_close(ps_jr_writer *w, int remove_file);

/* A job's rows as bytes and back. Decoded rows point into `strings` and `m`. */
int ps_jr_encode(const ps_eval_row *rows, int nrows, unsigned char **out, size_t *len);
typedef struct ps_jr_rows {
    ps_eval_row *rows;
    int nrows;
    ps_case_metrics *m;
    char *strings;
} ps_jr_rows;
int ps_jr_decode(const unsigned char *p, size_t n, const ps_eval_job *job, ps_jr_rows *out);
void ps_jr_rows_free(ps_jr_rows *r);

#endif
