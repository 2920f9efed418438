/* read_all.c - a whole file (or standard input) in memory: the one reader behind every
 * "read the text, then parse it" entry point (tables, manifests, JSON, summary.json). */
#include "ps_io.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int ps_read_all(const char *path, const char *what, char **text, size_t *len)
{
    *text = NULL;
    *len = 0;
    int is_stdin = !strcmp(path, "-");
    const char *name = is_stdin ? "(stdin)" : path;
    const char *w = what ? what : "", *sp = what ? " " : "";
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f)
        return ps_error(PS_ERR_IO, "cannot open %s%s%s: %s", w, sp, name, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = ps_malloc(cap + 1);
    int rc = buf ? PS_OK : PS_ERR_NOMEM;
    while (!rc) {
        if (n == cap) {
            if (cap >= ((size_t)1 << 30)) {
                rc = ps_error(PS_ERR_RANGE, "%s%s%s: larger than 1 GiB", w, sp, name);
                break;
            }
            char *b = ps_realloc_array(buf, 2 * cap + 1, 1);
            if (!b) {
                rc = PS_ERR_NOMEM;
                break;
            }
            buf = b;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f))
                rc = ps_error(PS_ERR_IO, "cannot read %s%s%s: %s", w, sp, name, strerror(errno));
            break;
        }
    }
    if (!is_stdin)
        fclose(f);
    if (rc) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return PS_OK;
}
