/* file_list.h - the file list of the bench floors (inflate_only.c, read_only.c): one path per
 * line of standard input, empty lines skipped. Bench tool, independent of libpanseval. */
#ifndef BENCH_FILE_LIST_H
#define BENCH_FILE_LIST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The paths (malloc'd), NULL when out of memory; *n their count. */
static char **read_file_list(FILE *in, size_t *n)
{
    size_t cap = 1024;
    char **files = malloc(cap * sizeof *files), line[4200];
    *n = 0;
    while (files && fgets(line, sizeof line, in)) {
        line[strcspn(line, "\n")] = 0;
        if (!*line)
            continue;
        if (*n == cap && !(files = realloc(files, (cap *= 2) * sizeof *files)))
            break;
        files[(*n)++] = strdup(line);
    }
    return files;
}

#endif
