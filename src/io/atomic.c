/* atomic.c - output files that appear whole or not at all.
 *
 * Write to a temporary file in the destination folder, flush, fsync, then rename() over the
 * destination: readers never see a half-written result, and a failed run leaves the previous
 * file untouched. "-" means standard output, which can only be flushed and checked.
 *
 * The temporary file has no name while it is written (Linux O_TMPFILE, open(2)): a process
 * killed by SIGKILL, or a power cut, leaves nothing behind, as the kernel frees an unnamed
 * file when its last descriptor closes (or when the file system is recovered). At commit it
 * gets the name ".<name>.XXXXXX" (linkat(2) through /proc/self/fd) and is renamed over the
 * destination at once, so only a kill between those two system calls can leave it. Where
 * O_TMPFILE or /proc is missing (some network file systems, old kernels), the temporary is
 * created with that name by mkstemp(3) and carries it while it is written.
 *
 * Overwrite policy (also in docs/io.md and in every command's --help):
 *   - an existing regular file is replaced and keeps its permission bits;
 *   - a symbolic link is followed: its target is replaced and the link stays a link;
 *   - refused, before anything is written: a folder, a device or other non-regular file, a
 *     read-only file (no write permission bit, or access(W_OK) fails), a link to a missing
 *     file, a missing folder, and a folder we cannot write in.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_TMPFILE */
#endif
#include "io_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct ps_atomic_file {
    FILE *f;
    char *path;  /* destination, NULL for stdout                                   */
    char *tmp;   /* temporary file beside it (its name once linked, when unnamed)  */
    int unnamed; /* an O_TMPFILE file: tmp is named only at commit                 */
};

static int named_only; /* tests: the mkstemp path, as without O_TMPFILE */

void ps_io_atomic_named_only_(int on)
{
    named_only = on;
}

/* Folder part of `path` ("." when there is none) into buf. */
static void folder_of(const char *path, char *buf, size_t len)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(buf, len, ".");
    else if (slash == path)
        snprintf(buf, len, "/");
    else
        snprintf(buf, len, "%.*s", (int)(slash - path), path);
}

static int check_folder(const char *path, const char *target)
{
    char dir[4096];
    folder_of(target, dir, sizeof dir);
    struct stat st;
    if (stat(dir, &st))
        return ps_error(PS_ERR_IO, "%s: cannot write here: folder '%s' %s", path, dir,
                        errno == ENOENT ? "does not exist" : strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return ps_error(PS_ERR_IO, "%s: cannot write here: '%s' is not a folder", path, dir);
    if (access(dir, W_OK | X_OK))
        return ps_error(PS_ERR_IO, "%s: cannot write in folder '%s': %s", path, dir,
                        strerror(errno));
    return PS_OK;
}

/* The checks of the policy above. *target (owned, may be NULL) is where the data goes: the
 * link's target for a symbolic link, else NULL (= path); *mode the mode to keep, or -1. */
static int atomic_check(const char *path, char **target, long *mode)
{
    *target = NULL;
    *mode = -1;
    struct stat lst, st;
    if (!*path)
        return ps_error(PS_ERR_IO, "empty output file name");
    if (lstat(path, &lst)) {
        if (errno != ENOENT)
            return ps_error(PS_ERR_IO, "%s: cannot write here: %s", path, strerror(errno));
        return check_folder(path, path);
    }
    const char *dest = path;
    if (S_ISLNK(lst.st_mode)) {
        if (stat(path, &st))
            return ps_error(PS_ERR_IO, "%s: is a symbolic link to a missing file; not written",
                            path);
        if (!(*target = realpath(path, NULL)))
            return ps_error(PS_ERR_IO, "%s: cannot resolve the symbolic link: %s", path,
                            strerror(errno));
        dest = *target;
    } else {
        st = lst;
    }
    int rc = PS_OK;
    if (S_ISDIR(st.st_mode))
        rc = ps_error(PS_ERR_IO, "%s: is a folder; give a file name", path);
    else if (!S_ISREG(st.st_mode))
        rc = ps_error(PS_ERR_IO, "%s: is not a regular file (use '-' for standard output)",
                      path);
    else if (!(st.st_mode & 0222) || access(dest, W_OK))
        rc = ps_error(PS_ERR_IO, "%s: is read-only; not replaced (change its mode or choose "
                      "another name)", path);
    else
        rc = check_folder(path, dest);
    if (rc) {
        free(*target);
        *target = NULL;
        return rc;
    }
    *mode = (long)(st.st_mode & 07777);
    return PS_OK;
}

int ps_atomic_check(const char *path)
{
    if (!path || !strcmp(path, "-"))
        return PS_OK;
    char *target;
    long mode;
    int rc = atomic_check(path, &target, &mode);
    free(target);
    return rc;
}

/* An unnamed file (O_TMPFILE) in the folder of the template "<dir>/.<name>.XXXXXX", or -1
 * when the system or the file system cannot make one, or /proc/self/fd is not there to name
 * it later (the caller then uses mkstemp, which reports any real error). */
static int open_unnamed(const char *tmpl)
{
#ifdef O_TMPFILE
    if (named_only)
        return -1;
    char dir[4096];
    folder_of(tmpl, dir, sizeof dir);
    int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    if (access(proc, F_OK)) {
        close(fd);
        return -1;
    }
    return fd;
#else
    (void)tmpl;
    return -1;
#endif
}

/* Give the unnamed file of af the name af->tmp ("...XXXXXX" filled with a fresh suffix), so
 * that rename() can put it over the destination. errno-style result (0 on success). */
static int link_unnamed(ps_atomic_file *af)
{
    static const char digits[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fileno(af->f));
    char *x = af->tmp + strlen(af->tmp) - 6;
    uint64_t h = (uint64_t)getpid() * 0x9E3779B97F4A7C15u ^ (uint64_t)(uintptr_t)af;
    for (int attempt = 0; attempt < 100; attempt++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        h ^= (uint64_t)ts.tv_nsec + ((uint64_t)attempt << 32);
        uint64_t r = h;
        for (int i = 0; i < 6; i++) {
            r ^= r << 13; r ^= r >> 7; r ^= r << 17; /* xorshift64 */
            x[i] = digits[r % (sizeof digits - 1)];
        }
        h = r;
        if (!linkat(AT_FDCWD, proc, AT_FDCWD, af->tmp, AT_SYMLINK_FOLLOW))
            return 0;
        if (errno != EEXIST)
            return errno;
    }
    return EEXIST;
}

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
    char *target;
    long mode;
    int rc = atomic_check(path, &target, &mode);
    if (rc) {
        free(af);
        return rc;
    }
    const char *dest = target ? target : path;
    const char *slash = strrchr(dest, '/');
    size_t dirlen = slash ? (size_t)(slash - dest) + 1 : 0;
    af->path = ps_strdup(dest);
    af->tmp = ps_asprintf("%.*s.%s.XXXXXX", (int)dirlen, dest, slash ? slash + 1 : dest);
    free(target);
    if (!af->path || !af->tmp) {
        ps_atomic_abort(af);
        return PS_ERR_NOMEM;
    }
    int fd = open_unnamed(af->tmp);
    if (fd >= 0)
        af->unnamed = 1;
    else
        fd = mkstemp(af->tmp);
    if (fd < 0) {
        int e = errno;
        free(af->tmp);
        af->tmp = NULL;
        ps_atomic_abort(af);
        return ps_error(PS_ERR_IO, "%s: cannot create a temporary file in its folder: %s", path,
                        strerror(e));
    }
    /* mkstemp creates 0600: a replaced file keeps its mode; a new one gets what fopen would
     * give (0666 less the umask) */
    if (mode >= 0) {
        fchmod(fd, (mode_t)mode);
    } else {
        mode_t um = umask(0);
        umask(um);
        fchmod(fd, 0666 & ~um);
    }
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
    int e = 0, named = !af->unnamed;
    if (fflush(af->f) || ferror(af->f))
        e = errno ? errno : EIO;
    else if (fsync(fileno(af->f)) && errno != EINVAL)
        e = errno;
    if (!e && af->unnamed) {
        e = link_unnamed(af);
        named = !e;
    }
    if (fclose(af->f) && !e)
        e = errno ? errno : EIO;
    af->f = NULL;
    if (!e && rename(af->tmp, af->path))
        e = errno;
    if (e) {
        rc = ps_error(PS_ERR_IO, "%s: write failed: %s", af->path, strerror(e));
        if (named)
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
        if (af->tmp && !af->unnamed)
            unlink(af->tmp);
    }
    free(af->tmp);
    free(af->path);
    free(af);
}
