/* fuzz_nifti.c - libFuzzer target for the NIfTI reader (src/io/nifti_read.c, volume.c,
 * geometry.c).
 *
 * Input: one mode byte, then the payload. The reader only takes file names, so the payload is
 * written to a memory file (memfd_create) and read back through /proc/self/fd/N, a regular
 * file with a size, as a .nii on disk would be.
 *   bit 0: 0 = the payload is the file (a payload starting with 1f 8b takes the gzip path);
 *          1 = the payload is gzip-compressed first, so that header and voxel bytes reach the
 *              parser through the .nii.gz path with a valid CRC.
 *   bits 1-2: reader: ps_volume_read, ps_volume_read_labels, ps_volume_read_float, or
 *             ps_io_volume_read_ex with a one-pass limit of 0 (streaming zlib path).
 * Every outcome must be a volume whose data buffer holds dims x type size bytes (all of them
 * are read, so ASan sees a short buffer), or a negative status with a message that names the
 * file. Anything else traps.
 *
 * Build: CC=clang meson setup build-fuzz -Dfuzz=true, then
 *   build-fuzz/tests/io/fuzz_nifti -max_len=65536 CORPUS_DIR
 * Seed corpus: the files in tests/golden/io, each prefixed with a mode byte (docs/io-fuzzing.md).
 */
#define _GNU_SOURCE
#include "io_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

static int memfd = -1;
static char memfd_path[64];

/* gzip (RFC 1952) of `in` via zlib's 16 + MAX_WBITS wrapper; NULL on failure. */
static unsigned char *gzip_bytes(const uint8_t *in, size_t n, size_t *outn)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    size_t cap = deflateBound(&zs, (uLong)n);
    unsigned char *out = malloc(cap);
    if (!out) {
        deflateEnd(&zs);
        return NULL;
    }
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    int ret = deflate(&zs, Z_FINISH);
    *outn = zs.total_out;
    deflateEnd(&zs);
    if (ret != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    return out;
}

static void put_file(const uint8_t *b, size_t n)
{
    if (memfd < 0) {
        memfd = memfd_create("fuzz.nii", 0);
        if (memfd < 0)
            abort();
        snprintf(memfd_path, sizeof memfd_path, "/proc/self/fd/%d", memfd);
    }
    if (ftruncate(memfd, 0) || (n && pwrite(memfd, b, n, 0) != (ssize_t)n))
        abort();
}

static void check_volume(const ps_volume *v, int reader)
{
    if (!v || !v->data || v->nc < 1 || !ps_dtype_size(v->dtype))
        __builtin_trap();
    for (int d = 0; d < 3; d++)
        if (v->geom.dim[d] < 1 || !(v->geom.spacing_mm[d] > 0))
            __builtin_trap();
    if (reader == 1 && (v->nc != 1 || (v->dtype != PS_DT_UINT8 && v->dtype != PS_DT_INT32)))
        __builtin_trap();
    if (reader == 2 && v->dtype != PS_DT_FLOAT32)
        __builtin_trap();
    size_t n = (size_t)ps_volume_nvox(v) * (size_t)v->nc * ps_dtype_size(v->dtype);
    const volatile unsigned char *p = v->data;
    unsigned acc = 0;
    for (size_t i = 0; i < n; i++)
        acc += p[i];
    (void)acc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int mode = data[0];
    data++, size--;
    unsigned char *gz = NULL;
    if (mode & 1) {
        size_t gzn = 0;
        if (!(gz = gzip_bytes(data, size, &gzn)))
            return 0;
        put_file(gz, gzn);
    } else {
        put_file(data, size);
    }
    int reader = (mode >> 1) & 3;
    ps_volume *v = NULL;
    int rc;
    switch (reader) {
    case 0: rc = ps_volume_read(memfd_path, &v); break;
    case 1: rc = ps_volume_read_labels(memfd_path, &v); break;
    case 2: rc = ps_volume_read_float(memfd_path, &v); break;
    default: rc = ps_io_volume_read_ex(memfd_path, 0, &v); break;
    }
    if (rc > 0)
        __builtin_trap();
    if (rc < 0) {
        const char *msg = ps_error_message();
        if (v || !msg || !strstr(msg, memfd_path))
            __builtin_trap();
    } else {
        check_volume(v, reader);
    }
    ps_volume_free(v);
    free(gz);
    return 0;
}
