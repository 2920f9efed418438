/* zip.c - the subset of ZIP that torch.save (PyTorch >= 1.6) writes.
 *
 * PyTorch's writer (caffe2/serialize/inline_container.cc, built on miniz) stores every entry
 * uncompressed, pads local headers so data starts on a 64-byte boundary, and switches to
 * ZIP64 records when sizes or offsets exceed 32 bits. We read the central directory (found from
 * the end-of-central-directory record, APPNOTE.TXT 4.3.16, and its ZIP64 counterparts 4.3.14
 * and 4.3.15), take sizes from it (ZIP64 extra field 0x0001 when a 32-bit field is
 * 0xFFFFFFFF), and find each entry's data through its local header (4.3.7), whose extra field
 * length may differ from the central one. Every offset and size is checked against the buffer.
 */
#include "ckpt_internal.h"

#include <stdlib.h>
#include <string.h>

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_EOCD64_LOC 0x07064b50u

static uint32_t rd16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t rd32(const uint8_t *p) { return rd16(p) | rd16(p + 2) << 16; }
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* CRC-32 table of the reflected polynomial 0xEDB88320 (table[i] = i shifted through 8 rounds
 * of c = c & 1 ? 0xEDB88320 ^ (c >> 1) : c >> 1). */
static const uint32_t crc_table[256] = {
    0x00000000u, 0x77073096u, 0xee0e612cu, 0x990951bau, 0x076dc419u, 0x706af48fu,
    0xe963a535u, 0x9e6495a3u, 0x0edb8832u, 0x79dcb8a4u, 0xe0d5e91eu, 0x97d2d988u,
    0x09b64c2bu, 0x7eb17cbdu, 0xe7b82d07u, 0x90bf1d91u, 0x1db71064u, 0x6ab020f2u,
    0xf3b97148u, 0x84be41deu, 0x1adad47du, 0x6ddde4ebu, 0xf4d4b551u, 0x83d385c7u,
    0x136c9856u, 0x646ba8c0u, 0xfd62f97au, 0x8a65c9ecu, 0x14015c4fu, 0x63066cd9u,
    0xfa0f3d63u, 0x8d080df5u, 0x3b6e20c8u, 0x4c69105eu, 0xd56041e4u, 0xa2677172u,
    0x3c03e4d1u, 0x4b04d447u, 0xd20d85fdu, 0xa50ab56bu, 0x35b5a8fau, 0x42b2986cu,
    0xdbbbc9d6u, 0xacbcf940u, 0x32d86ce3u, 0x45df5c75u, 0xdcd60dcfu, 0xabd13d59u,
    0x26d930acu, 0x51de003au, 0xc8d75180u, 0xbfd06116u, 0x21b4f4b5u, 0x56b3c423u,
    0xcfba9599u, 0xb8bda50fu, 0x2802b89eu, 0x5f058808u, 0xc60cd9b2u, 0xb10be924u,
    0x2f6f7c87u, 0x58684c11u, 0xc1611dabu, 0xb6662d3du, 0x76dc4190u, 0x01db7106u,
    0x98d220bcu, 0xefd5102au, 0x71b18589u, 0x06b6b51fu, 0x9fbfe4a5u, 0xe8b8d433u,
    0x7807c9a2u, 0x0f00f934u, 0x9609a88eu, 0xe10e9818u, 0x7f6a0dbbu, 0x086d3d2du,
    0x91646c97u, 0xe6635c01u, 0x6b6b51f4u, 0x1c6c6162u, 0x856530d8u, 0xf262004eu,
    0x6c0695edu, 0x1b01a57bu, 0x8208f4c1u, 0xf50fc457u, 0x65b0d9c6u, 0x12b7e950u,
    0x8bbeb8eau, 0xfcb9887cu, 0x62dd1ddfu, 0x15da2d49u, 0x8cd37cf3u, 0xfbd44c65u,
    0x4db26158u, 0x3ab551ceu, 0xa3bc0074u, 0xd4bb30e2u, 0x4adfa541u, 0x3dd895d7u,
    0xa4d1c46du, 0xd3d6f4fbu, 0x4369e96au, 0x346ed9fcu, 0xad678846u, 0xda60b8d0u,
    0x44042d73u, 0x33031de5u, 0xaa0a4c5fu, 0xdd0d7cc9u, 0x5005713cu, 0x270241aau,
    0xbe0b1010u, 0xc90c2086u, 0x5768b525u, 0x206f85b3u, 0xb966d409u, 0xce61e49fu,
    0x5edef90eu, 0x29d9c998u, 0xb0d09822u, 0xc7d7a8b4u, 0x59b33d17u, 0x2eb40d81u,
    0xb7bd5c3bu, 0xc0ba6cadu, 0xedb88320u, 0x9abfb3b6u, 0x03b6e20cu, 0x74b1d29au,
    0xead54739u, 0x9dd277afu, 0x04db2615u, 0x73dc1683u, 0xe3630b12u, 0x94643b84u,
    0x0d6d6a3eu, 0x7a6a5aa8u, 0xe40ecf0bu, 0x9309ff9du, 0x0a00ae27u, 0x7d079eb1u,
    0xf00f9344u, 0x8708a3d2u, 0x1e01f268u, 0x6906c2feu, 0xf762575du, 0x806567cbu,
    0x196c3671u, 0x6e6b06e7u, 0xfed41b76u, 0x89d32be0u, 0x10da7a5au, 0x67dd4accu,
    0xf9b9df6fu, 0x8ebeeff9u, 0x17b7be43u, 0x60b08ed5u, 0xd6d6a3e8u, 0xa1d1937eu,
    0x38d8c2c4u, 0x4fdff252u, 0xd1bb67f1u, 0xa6bc5767u, 0x3fb506ddu, 0x48b2364bu,
    0xd80d2bdau, 0xaf0a1b4cu, 0x36034af6u, 0x41047a60u, 0xdf60efc3u, 0xa867df55u,
    0x316e8eefu, 0x4669be79u, 0xcb61b38cu, 0xbc66831au, 0x256fd2a0u, 0x5268e236u,
    0xcc0c7795u, 0xbb0b4703u, 0x220216b9u, 0x5505262fu, 0xc5ba3bbeu, 0xb2bd0b28u,
    0x2bb45a92u, 0x5cb36a04u, 0xc2d7ffa7u, 0xb5d0cf31u, 0x2cd99e8bu, 0x5bdeae1du,
    0x9b64c2b0u, 0xec63f226u, 0x756aa39cu, 0x026d930au, 0x9c0906a9u, 0xeb0e363fu,
    0x72076785u, 0x05005713u, 0x95bf4a82u, 0xe2b87a14u, 0x7bb12baeu, 0x0cb61b38u,
    0x92d28e9bu, 0xe5d5be0du, 0x7cdcefb7u, 0x0bdbdf21u, 0x86d3d2d4u, 0xf1d4e242u,
    0x68ddb3f8u, 0x1fda836eu, 0x81be16cdu, 0xf6b9265bu, 0x6fb077e1u, 0x18b74777u,
    0x88085ae6u, 0xff0f6a70u, 0x66063bcau, 0x11010b5cu, 0x8f659effu, 0xf862ae69u,
    0x616bffd3u, 0x166ccf45u, 0xa00ae278u, 0xd70dd2eeu, 0x4e048354u, 0x3903b3c2u,
    0xa7672661u, 0xd06016f7u, 0x4969474du, 0x3e6e77dbu, 0xaed16a4au, 0xd9d65adcu,
    0x40df0b66u, 0x37d83bf0u, 0xa9bcae53u, 0xdebb9ec5u, 0x47b2cf7fu, 0x30b5ffe9u,
    0xbdbdf21cu, 0xcabac28au, 0x53b39330u, 0x24b4a3a6u, 0xbad03605u, 0xcdd70693u,
    0x54de5729u, 0x23d967bfu, 0xb3667a2eu, 0xc4614ab8u, 0x5d681b02u, 0x2a6f2b94u,
    0xb40bbe37u, 0xc30c8ea1u, 0x5a05df1bu, 0x2d02ef8du,
};

uint32_t ps_crc32(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    if (n >= 65536) {
        /* slicing-by-8 (Kounavis & Berry, "A systematic approach to building high performance
         * software-based CRC generators", 2005): t[k][i] is the CRC of byte i followed by k
         * zero bytes, so 8 input bytes are folded with 8 independent table lookups. The
         * tables (8 kB, on the stack) cost ~2000 operations, negligible for large inputs. */
        uint32_t t[8][256];
        for (int i = 0; i < 256; i++)
            t[0][i] = crc_table[i];
        for (int k = 1; k < 8; k++)
            for (int i = 0; i < 256; i++)
                t[k][i] = (t[k - 1][i] >> 8) ^ crc_table[t[k - 1][i] & 0xff];
        while (n >= 8) {
            uint32_t one = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                           (uint32_t)p[3] << 24;
            uint32_t two = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 |
                           (uint32_t)p[7] << 24;
            one ^= crc;
            crc = t[7][one & 0xff] ^ t[6][(one >> 8) & 0xff] ^ t[5][(one >> 16) & 0xff] ^
                  t[4][one >> 24] ^ t[3][two & 0xff] ^ t[2][(two >> 8) & 0xff] ^
                  t[1][(two >> 16) & 0xff] ^ t[0][two >> 24];
            p += 8;
            n -= 8;
        }
    }
    for (size_t i = 0; i < n; i++)
        crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

void ps_zip_free(ps_zip *z)
{
    if (!z)
        return;
    for (int i = 0; i < z->n; i++)
        free(z->entries[i].name);
    free(z->entries);
    free(z->prefix);
    free(z);
}

/* A pre-1.6 torch.save file is a pickle stream: PROTO 2 followed by LONG1 of the magic number
 * 0x1950a86a20f9469cfc6c (torch/serialization.py MAGIC_NUMBER). */
int ps_torch_is_legacy(const uint8_t *b, size_t n)
{
    static const uint8_t magic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                    0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
    return n >= sizeof magic && !memcmp(b, magic, sizeof magic);
}

static int fmt_err(const char *fmt, unsigned long long a, unsigned long long b)
{
    return ps_error(PS_ERR_FORMAT, fmt, a, b);
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const ps_zip_entry *)a)->name, ((const ps_zip_entry *)b)->name);
}

int ps_zip_open(const uint8_t *buf, size_t len, ps_zip **out)
{
    *out = NULL;
    if (ps_torch_is_legacy(buf, len))
        return ps_error(PS_ERR_UNSUPPORTED,
                        "legacy PyTorch checkpoint (torch.save before PyTorch 1.6, or with "
                        "_use_new_zipfile_serialization=False) is not supported; re-save it "
                        "with PyTorch >= 1.6: torch.save(torch.load(F), F)");
    if (len < 22)
        return ps_error(PS_ERR_FORMAT, "not a torch.save zip archive: %zu bytes is too short",
                        len);
    if (rd32(buf) != SIG_LOCAL)
        return ps_error(PS_ERR_FORMAT, "not a torch.save zip archive (no ZIP signature at "
                                       "the start)");
    /* end of central directory: 22 bytes + a comment of at most 65535 bytes */
    size_t eocd = (size_t)-1;
    size_t lo = len > 22 + 65535 ? len - 22 - 65535 : 0;
    for (size_t i = len - 22 + 1; i-- > lo;) {
        if (rd32(buf + i) == SIG_EOCD && i + 22 + rd16(buf + i + 20) == len) {
            eocd = i;
            break;
        }
    }
    if (eocd == (size_t)-1)
        return ps_error(PS_ERR_FORMAT, "zip: no end-of-central-directory record (file "
                                       "truncated?)");
    const uint8_t *e = buf + eocd;
    if (rd16(e + 4) != 0 || rd16(e + 6) != 0)
        return ps_error(PS_ERR_FORMAT, "zip: multi-disk archives are not supported");
    uint64_t nent = rd16(e + 10), cd_size = rd32(e + 12), cd_off = rd32(e + 16);
    if (nent == 0xffff || cd_size == 0xffffffffu || cd_off == 0xffffffffu) {
        if (eocd < 20 || rd32(buf + eocd - 20) != SIG_EOCD64_LOC)
            return ps_error(PS_ERR_FORMAT, "zip: ZIP64 locator missing");
        uint64_t off64 = rd64(buf + eocd - 20 + 8);
        if (off64 > len || len - off64 < 56 || rd32(buf + off64) != SIG_EOCD64)
            return fmt_err("zip: ZIP64 end record offset %llu invalid (file size %llu)",
                           (unsigned long long)off64, (unsigned long long)len);
        const uint8_t *e64 = buf + off64;
        nent = rd64(e64 + 32);
        cd_size = rd64(e64 + 40);
        cd_off = rd64(e64 + 48);
    }
    if (cd_off > len || cd_size > len - cd_off)
        return fmt_err("zip: central directory (offset %llu) extends beyond the end of the "
                       "file (size %llu)", (unsigned long long)cd_off, (unsigned long long)len);
    if (nent == 0 || nent > cd_size / 46)
        return fmt_err("zip: %llu entries cannot fit in a central directory of %llu bytes",
                       (unsigned long long)nent, (unsigned long long)cd_size);

    ps_zip *z = ps_calloc(1, sizeof *z);
    if (!z)
        return PS_ERR_NOMEM;
    z->buf = buf;
    z->len = len;
    z->entries = ps_calloc((size_t)nent, sizeof *z->entries);
    if (!z->entries) {
        ps_zip_free(z);
        return PS_ERR_NOMEM;
    }
    int rc = PS_OK;
    uint64_t pos = cd_off, end = cd_off + cd_size;
    for (uint64_t i = 0; i < nent; i++) {
        if (end - pos < 46 || rd32(buf + pos) != SIG_CENTRAL) {
            rc = fmt_err("zip: central directory entry %llu is damaged (at byte %llu)",
                         (unsigned long long)i, (unsigned long long)pos);
            break;
        }
        const uint8_t *c = buf + pos;
        uint32_t flags = rd16(c + 8), method = rd16(c + 10);
        uint64_t csize = rd32(c + 20), usize = rd32(c + 24), lho = rd32(c + 42);
        uint32_t nlen = rd16(c + 28), xlen = rd16(c + 30), clen = rd16(c + 32);
        if (end - pos - 46 < (uint64_t)nlen + xlen + clen) {
            rc = fmt_err("zip: central directory entry %llu overruns the directory (at byte "
                         "%llu)", (unsigned long long)i, (unsigned long long)pos);
            break;
        }
        ps_zip_entry *ze = &z->entries[z->n];
        if (!(ze->name = ps_strndup((const char *)c + 46, nlen))) {
            rc = PS_ERR_NOMEM;
            break;
        }
        z->n++;
        /* ZIP64 extended information: only the fields whose 32-bit value is saturated */
        const uint8_t *x = c + 46 + nlen, *xend = x + xlen;
        while (xend - x >= 4) {
            uint32_t id = rd16(x), sz = rd16(x + 2);
            if ((uint32_t)(xend - x - 4) < sz)
                break;
            if (id == 0x0001) {
                const uint8_t *f = x + 4, *fend = x + 4 + sz;
                if (usize == 0xffffffffu && fend - f >= 8) { usize = rd64(f); f += 8; }
                if (csize == 0xffffffffu && fend - f >= 8) { csize = rd64(f); f += 8; }
                if (lho == 0xffffffffu && fend - f >= 8) { lho = rd64(f); f += 8; }
            }
            x += 4 + sz;
        }
        if (flags & 1) {
            rc = ps_error(PS_ERR_UNSUPPORTED, "zip: entry '%s' is encrypted", ze->name);
            break;
        }
        if (method != 0 || csize != usize) {
            rc = ps_error(PS_ERR_UNSUPPORTED, "zip: entry '%s' is compressed (method %u); "
                          "torch.save stores entries uncompressed", ze->name, method);
            break;
        }
        if (lho > len || len - lho < 30 || rd32(buf + lho) != SIG_LOCAL) {
            rc = ps_error(PS_ERR_FORMAT, "zip: local header of '%s' at byte %llu is missing "
                          "or beyond the end of the file (size %zu)", ze->name,
                          (unsigned long long)lho, len);
            break;
        }
        uint64_t data = lho + 30 + rd16(buf + lho + 26) + rd16(buf + lho + 28);
        if (data > len || usize > len - data) {
            rc = ps_error(PS_ERR_FORMAT, "zip: data of '%s' (%llu bytes at byte %llu) extends "
                          "beyond the end of the file (size %zu)", ze->name,
                          (unsigned long long)usize, (unsigned long long)data, len);
            break;
        }
        ze->offset = data;
        ze->size = usize;
        ze->crc32 = rd32(c + 16);
        pos += 46 + (uint64_t)nlen + xlen + clen;
    }
    if (!rc) {
        /* the archive's folder name is whatever the first entry is stored under */
        const char *first = z->entries[0].name, *slash = strchr(first, '/');
        z->prefix = ps_strndup(first, slash ? (size_t)(slash - first) + 1 : 0);
        if (!z->prefix)
            rc = PS_ERR_NOMEM;
        else
            qsort(z->entries, (size_t)z->n, sizeof *z->entries, entry_cmp);
    }
    if (rc) {
        ps_zip_free(z);
        return rc;
    }
    *out = z;
    return PS_OK;
}

int ps_zip_from_entries(const uint8_t *buf, size_t len, ps_zip_entry *entries, int n,
                        ps_zip **out)
{
    *out = NULL;
    ps_zip *z = ps_calloc(1, sizeof *z);
    if (!z || !(z->prefix = ps_strdup(""))) {
        for (int i = 0; i < n; i++)
            free(entries[i].name);
        free(entries);
        free(z);
        return PS_ERR_NOMEM;
    }
    z->buf = buf;
    z->len = len;
    z->entries = entries;
    z->n = n;
    for (int i = 0; i < n; i++)
        entries[i].crc_checked = 1;
    qsort(entries, (size_t)n, sizeof *entries, entry_cmp);
    *out = z;
    return PS_OK;
}

ps_zip_entry *ps_zip_find(ps_zip *z, const char *name)
{
    /* entries are sorted by full name: binary search for prefix + name */
    size_t np = strlen(z->prefix);
    int lo = 0, hi = z->n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        const char *n = z->entries[mid].name;
        int c = strncmp(n, z->prefix, np);
        if (!c)
            c = strlen(n) < np ? -1 : strcmp(n + np, name);
        if (!c)
            return &z->entries[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int ps_zip_data(ps_zip *z, ps_zip_entry *e, const uint8_t **data)
{
    const uint8_t *d = z->buf + e->offset;
    if (!e->crc_checked) {
        uint32_t crc = ps_crc32(0, d, (size_t)e->size);
        if (crc != e->crc32)
            return ps_error(PS_ERR_FORMAT, "zip: entry '%s' is corrupt (CRC-32 %08x, expected "
                            "%08x)", e->name, crc, e->crc32);
        e->crc_checked = 1;
    }
    *data = d;
    return PS_OK;
}
