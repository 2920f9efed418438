/* error.c - per-thread error messages (see ps_core.h for the protocol). */
#include "ps_core.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define PS_ERRBUF 4096

static _Thread_local char errbuf[PS_ERRBUF];
static _Thread_local int errcode;

const char *ps_status_name(int code)
{
    switch (code) {
    case PS_OK: return "ok";
    case PS_ERR_NOMEM: return "out of memory";
    case PS_ERR_IO: return "i/o error";
    case PS_ERR_FORMAT: return "format error";
    case PS_ERR_ARG: return "invalid argument";
    case PS_ERR_GEOMETRY: return "geometry mismatch";
    case PS_ERR_UNSUPPORTED: return "unsupported";
    case PS_ERR_NUMERIC: return "numerical error";
    case PS_ERR_RANGE: return "out of range";
    case PS_ERR_INTERNAL: return "internal error";
    default: return "unknown error";
    }
}

int ps_error(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, sizeof errbuf, fmt, ap);
    va_end(ap);
    errcode = code;
    return code;
}

int ps_error_context(int code, const char *fmt, ...)
{
    char prefix[1024], joined[PS_ERRBUF + sizeof prefix + 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    if (errbuf[0])
        snprintf(joined, sizeof joined, "%s: %s", prefix, errbuf);
    else
        snprintf(joined, sizeof joined, "%s", prefix);
    /* keep the front (the context) when the whole does not fit */
    size_t len = strnlen(joined, sizeof errbuf - 1);
    memcpy(errbuf, joined, len);
    errbuf[len] = '\0';
    errcode = code;
    return code;
}

const char *ps_error_message(void) { return errbuf; }
int ps_error_code(void) { return errcode; }

void ps_error_clear(void)
{
    errbuf[0] = '\0';
    errcode = PS_OK;
}
