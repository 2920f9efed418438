/* atomic.c - output files that appear whole or not at all.
 *
 * Write to a temporary file in the destination folder, flush, fsync, then rename() over the
 * destination: readers never see a half-written result, and a failed run leaves the previous
 * file untouched. "-" means standard output, which can only be flushed and checked.
 */
#include "ps_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct ps_atomic_file {
    FILE *f;
    char *path;  /* destination, NULL for stdout */
    char *tmp;   /* temporary file beside it      */
};

int ps_atomic_open(const char *path, ps_atomic_file **out)
{
    *out = NULL;
    ps_atomic_file *af = ps_calloc(1, sizeof *af);
    if (!af)
        return PS_ERR_NOMEM;
    if (!path || !strcmp(path, "-")) {
        af->f = stdout;
        *out = af;
        return PS_OK;
    }
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
    af->path = ps_strdup(path);
    af->tmp = ps_asprintf("%.*s.%s.XXXXXX", (int)dirlen, path, slash ? slash + 1 : path);
    if (!af->path || !af->tmp) {
        ps_atomic_abort(af);
        return PS_ERR_NOMEM;
    }
    int fd = mkstemp(af->tmp);
    if (fd < 0) {
        int e = errno;
        free(af->tmp);
        af->tmp = NULL;
        ps_atomic_abort(af);
        return ps_error(PS_ERR_IO, "%s: cannot create a temporary file in its folder: %s", path,
                        strerror(e));
    }
    /* mkstemp creates 0600; results are ordinary files, so honour the umask like fopen would */
    mode_t um = umask(0);
    umask(um);
    fchmod(fd, 0666 & ~um);
    af->f = fdopen(fd, "wb");
    if (!af->f) {
        int e = errno;
        close(fd);
        ps_atomic_abort(af);
        return ps_error(PS_ERR_IO, "%s: %s", path, strerror(e));
    }
    *out = af;
    return PS_OK;
}

FILE *ps_atomic_stream(ps_atomic_file *af)
{
    return af ? af->f : NULL;
}

int ps_atomic_commit(ps_atomic_file *af)
{
    if (!af)
        return ps_error(PS_ERR_INTERNAL, "ps_atomic_commit: NULL file");
    int rc = PS_OK;
    if (!af->path) {
        if (fflush(stdout) || ferror(stdout))
            rc = ps_error(PS_ERR_IO, "error writing standard output: %s", strerror(errno));
        free(af);
        return rc;
    }
    int e = 0;
    if (fflush(af->f) || ferror(af->f))
        e = errno ? errno : EIO;
    else if (fsync(fileno(af->f)) && errno != EINVAL)
        e = errno;
    if (fclose(af->f) && !e)
        e = errno ? errno : EIO;
    af->f = NULL;
    if (!e && rename(af->tmp, af->path))
        e = errno;
    if (e) {
        rc = ps_error(PS_ERR_IO, "%s: write failed: %s", af->path, strerror(e));
        unlink(af->tmp);
    }
    free(af->tmp);
    free(af->path);
    free(af);
    return rc;
}

void ps_atomic_abort(ps_atomic_file *af)
{
    if (!af)
        return;
    if (af->path) {
        if (af->f)
            fclose(af->f);
        if (af->tmp)
            unlink(af->tmp);
    }
    free(af->tmp);
    free(af->path);
    free(af);
}
