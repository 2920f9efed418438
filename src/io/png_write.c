/* png_write.c - encode an 8-bit RGB image as PNG in memory (libpng).
 *
 * The report's slice figures are PNG data URIs. libpng writes through a callback into a
 * growing buffer; its errors arrive by longjmp into png_encode() and become PS_ERR_*. The
 * output is deterministic: no time chunk, fixed compression level 9 and the default
 * filter heuristics, so the same pixels give the same bytes.
 */
#include "ps_io.h"

#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

typedef struct png_sink {
    unsigned char *data;
    size_t len, cap;
    int nomem;
} png_sink;

static void sink_write(png_structp png, png_bytep bytes, png_size_t n)
{
    png_sink *s = png_get_io_ptr(png);
    if (s->nomem)
        return;
    if (s->len + n > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + n)
            cap *= 2;
        unsigned char *p = realloc(s->data, cap);
        if (!p) {
            s->nomem = 1;
            return;
        }
        s->data = p;
        s->cap = cap;
    }
    memcpy(s->data + s->len, bytes, n);
    s->len += n;
}

static void sink_flush(png_structp png) { (void)png; }

static void png_fail(png_structp png, png_const_charp msg)
{
    char *buf = png_get_error_ptr(png);
    snprintf(buf, 200, "%s", msg);
    png_longjmp(png, 1);
}

static void png_warn(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

int ps_png_encode_rgb(const uint8_t *rgb, int width, int height, unsigned char **out,
                      size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (!rgb || width < 1 || height < 1 || width > 1 << 20 || height > 1 << 20)
        return ps_error(PS_ERR_ARG, "PNG: invalid image size %d x %d", width, height);
    char msg[200] = "";
    png_sink sink = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, msg, png_fail, png_warn);
    if (!png)
        return ps_error(PS_ERR_NOMEM, "PNG: out of memory");
    png_infop info = png_create_info_struct(png);
    /* volatile: read after a longjmp */
    volatile int rc = PS_OK;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return ps_error(PS_ERR_NOMEM, "PNG: out of memory");
    }
    if (setjmp(png_jmpbuf(png))) {
        rc = ps_error(PS_ERR_INTERNAL, "PNG encoder: %s", msg);
    } else {
        png_set_write_fn(png, &sink, sink_write, sink_flush);
        png_set_compression_level(png, 9);
        png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_RGB,
                     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        png_write_info(png, info);
        for (int y = 0; y < height; y++)
            png_write_row(png, (png_const_bytep)(rgb + (size_t)y * (size_t)width * 3));
        png_write_end(png, NULL);
    }
    png_destroy_write_struct(&png, &info);
    if (!rc && sink.nomem)
        rc = ps_error(PS_ERR_NOMEM, "PNG: out of memory");
    if (rc) {
        free(sink.data);
        return rc;
    }
    *out = sink.data;
    *out_len = sink.len;
    return PS_OK;
}
