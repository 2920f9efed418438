/* gen_scale.c - the paper-scale synthetic evaluation set of issue 11 (bench tool, independent
 * of libpanseval).
 *
 * Writes OUTDIR/manifest.tsv and the label maps it names, as .nii.gz (NIfTI-1, uint8, gzip by
 * libdeflate):
 *   - 1,350 CT cases of 512 x 512 x (80..250) voxels, in-plane 0.6-0.9 mm, slices 1-3 mm;
 *   - 767 MRI cases of 320 x 260 x (40..80) voxels (T1W and T2W alternately), in-plane
 *     1.0-1.6 mm, slices 3-7 mm;
 *   the mix of the PanSegNet paper's 2,117 scans. Each case has a reference (`ref`), two
 *   models (`pred:modelA`, small errors; `pred:modelB`, larger errors, an empty prediction in
 *   about 1% of cases) and, on every tenth case, a second rater (`rater:B`). No images: the
 *   metrics need none.
 * Shapes: a pancreas-like chain of five ellipsoids along a curved centre line of about 140 mm
 * (head 15 mm, tail 6 mm radius; 60-100 ml), placed near the image centre. A model or rater
 * perturbs the chain: each ellipsoid moves by N(0, s) mm per axis and scales its radii by
 * 1 + N(0, r) (modelA s = 1.5, r = 0.06; modelB s = 3, r = 0.12; rater s = 1, r = 0.04).
 * Everything is drawn from splitmix64 seeded by (seed, case index), so the set is the same
 * for any thread count and a partial run can be completed (existing files are kept).
 *
 * Build and run (about 0.4 GB for the full set: 40-70 kB per label map; see bench/bench_scale.sh):
 *   cc -O2 -fopenmp -I/usr/include/nifti bench/gen_scale.c -ldeflate -lm -o /tmp/gen_scale
 *   /tmp/gen_scale OUTDIR [--cases N] [--ct N] [--seed S] [--level L] [-j T]
 * --cases N keeps the CT:MRI ratio of the full set (1350:767) unless --ct is given.
 */
#include <errno.h>
#include <libdeflate.h>
#include <math.h>
#include <nifti1.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t next_u64(rng *r)
{ /* splitmix64 (Steele, Lea, Flood 2014) */
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double uniform(rng *r, double lo, double hi)
{
    return lo + (hi - lo) * (double)(next_u64(r) >> 11) * 0x1.0p-53;
}

static double normal(rng *r)
{ /* Box-Muller, one value per call */
    double u = uniform(r, 0x1.0p-53, 1.0), v = uniform(r, 0.0, 1.0);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

#define NELL 5
typedef struct shape {
    double c[NELL][3]; /* centres, mm */
    double r[NELL][3]; /* radii, mm */
} shape;

typedef struct grid {
    int nx, ny, nz;
    double sp[3];
} grid;

static void make_shape(rng *r, const grid *g, shape *s)
{
    double ext[3] = {g->nx * g->sp[0], g->ny * g->sp[1], g->nz * g->sp[2]};
    double cx = ext[0] / 2 + uniform(r, -15, 15), cy = ext[1] / 2 + uniform(r, -15, 15);
    double cz = ext[2] / 2 + uniform(r, -0.1, 0.1) * ext[2];
    double scale = uniform(r, 0.85, 1.1);
    for (int e = 0; e < NELL; e++) {
        double t = e / (double)(NELL - 1);
        s->c[e][0] = cx + scale * (-60 + 120 * t);
        s->c[e][1] = cy + scale * (20 * sin(3.14159265 * t) + 6 * t);
        /* keep the chain inside thin slabs too: at most a third of the z extent */
        double dz = 15 * t * t;
        if (dz > ext[2] / 6)
            dz = ext[2] / 6;
        s->c[e][2] = cz + dz;
        double rad = scale * (15 - 9 * t);
        s->r[e][0] = rad * 1.3;
        s->r[e][1] = rad;
        s->r[e][2] = rad * 0.8 < ext[2] / 4 ? rad * 0.8 : ext[2] / 4;
    }
}

static void perturb(rng *r, const shape *in, double sd_mm, double sd_rel, shape *out)
{
    for (int e = 0; e < NELL; e++)
        for (int d = 0; d < 3; d++) {
            out->c[e][d] = in->c[e][d] + sd_mm * normal(r);
            double f = 1.0 + sd_rel * normal(r);
            out->r[e][d] = in->r[e][d] * (f < 0.5 ? 0.5 : f);
        }
}

/* Rasterise the shape into a zeroed uint8 volume (label 1), visiting only each ellipsoid's
 * bounding box. */
static void rasterise(const grid *g, const shape *s, uint8_t *vol)
{
    for (int e = 0; e < NELL; e++) {
        int lo[3], hi[3], n[3] = {g->nx, g->ny, g->nz};
        for (int d = 0; d < 3; d++) {
            lo[d] = (int)floor((s->c[e][d] - s->r[e][d]) / g->sp[d]) - 1;
            hi[d] = (int)ceil((s->c[e][d] + s->r[e][d]) / g->sp[d]) + 1;
            if (lo[d] < 0)
                lo[d] = 0;
            if (hi[d] > n[d] - 1)
                hi[d] = n[d] - 1;
        }
        for (int k = lo[2]; k <= hi[2]; k++) {
            double z = ((k + 0.5) * g->sp[2] - s->c[e][2]) / s->r[e][2];
            for (int j = lo[1]; j <= hi[1]; j++) {
                double y = ((j + 0.5) * g->sp[1] - s->c[e][1]) / s->r[e][1];
                double rest = 1.0 - z * z - y * y;
                if (rest < 0)
                    continue;
                uint8_t *row = vol + ((size_t)k * g->ny + j) * g->nx;
                for (int i = lo[0]; i <= hi[0]; i++) {
                    double x = ((i + 0.5) * g->sp[0] - s->c[e][0]) / s->r[e][0];
                    if (x * x <= rest)
                        row[i] = 1;
                }
            }
        }
    }
}

typedef struct buffers {
    uint8_t *raw;   /* 352-byte header + voxels */
    uint8_t *gz;
    size_t cap_raw, cap_gz;
    struct libdeflate_compressor *comp;
} buffers;

static void header(const grid *g, uint8_t *out)
{
    nifti_1_header h;
    memset(&h, 0, sizeof h);
    h.sizeof_hdr = 348;
    h.dim[0] = 3;
    h.dim[1] = (short)g->nx;
    h.dim[2] = (short)g->ny;
    h.dim[3] = (short)g->nz;
    for (int d = 4; d < 8; d++)
        h.dim[d] = 1;
    h.datatype = DT_UINT8;
    h.bitpix = 8;
    h.pixdim[0] = 1.0f;
    for (int d = 0; d < 3; d++)
        h.pixdim[d + 1] = (float)g->sp[d];
    h.vox_offset = 352.0f;
    h.xyzt_units = NIFTI_UNITS_MM;
    h.qform_code = NIFTI_XFORM_SCANNER_ANAT;
    h.sform_code = NIFTI_XFORM_SCANNER_ANAT;
    h.srow_x[0] = (float)g->sp[0];
    h.srow_y[1] = (float)g->sp[1];
    h.srow_z[2] = (float)g->sp[2];
    memcpy(h.magic, "n+1", 4);
    memcpy(out, &h, sizeof h);
    memset(out + 348, 0, 4);
}

/* Write one label map atomically (temporary name, then rename). 0 on success. */
static int write_case_file(const char *path, const grid *g, const shape *s, buffers *b)
{
    size_t nvox = (size_t)g->nx * g->ny * g->nz, n = 352 + nvox;
    if (n > b->cap_raw) {
        free(b->raw);
        free(b->gz);
        b->cap_raw = n;
        b->cap_gz = libdeflate_gzip_compress_bound(b->comp, n);
        b->raw = malloc(b->cap_raw);
        b->gz = malloc(b->cap_gz);
        if (!b->raw || !b->gz)
            return -1;
    }
    header(g, b->raw);
    memset(b->raw + 352, 0, nvox);
    if (s)
        rasterise(g, s, b->raw + 352);
    size_t z = libdeflate_gzip_compress(b->comp, b->raw, n, b->gz, b->cap_gz);
    if (!z)
        return -1;
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp%d", path, omp_get_thread_num());
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return -1;
    int bad = fwrite(b->gz, 1, z, f) != z;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path)) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

int main(int argc, char **argv)
{
    const char *out = NULL;
    long ncases = 2117, nct = -1;
    uint64_t seed = 2025;
    int level = 6, threads = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--cases") && i + 1 < argc)
            ncases = atol(argv[++i]);
        else if (!strcmp(argv[i], "--ct") && i + 1 < argc)
            nct = atol(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--level") && i + 1 < argc)
            level = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-j") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (argv[i][0] != '-' && !out)
            out = argv[i];
        else {
            fprintf(stderr, "usage: gen_scale OUTDIR [--cases N] [--ct N] [--seed S] "
                            "[--level 1-12] [-j T]\n");
            return 2;
        }
    }
    if (!out || ncases < 1 || level < 0 || level > 12) {
        fprintf(stderr, "usage: gen_scale OUTDIR [--cases N] [--ct N] [--seed S] [--level L] "
                        "[-j T]\n");
        return 2;
    }
    if (nct < 0)
        nct = (ncases * 1350 + 2117 / 2) / 2117;
    if (nct > ncases)
        nct = ncases;
    if (threads > 0)
        omp_set_num_threads(threads);
    static const char *dirs[] = {"labels", "modelA", "modelB", "raterB"};
    char path[4200];
    if (mkdir(out, 0777) && errno != EEXIST) {
        perror(out);
        return 1;
    }
    for (int d = 0; d < 4; d++) {
        snprintf(path, sizeof path, "%s/%s", out, dirs[d]);
        if (mkdir(path, 0777) && errno != EEXIST) {
            perror(path);
            return 1;
        }
    }
    static const char *ct_centers[] = {"NIH", "MSD", "CT-C", "CT-D"};
    static const char *mr_centers[] = {"NYU", "MCF", "MCA", "NWU", "AHN"};
    int failed = 0;
    size_t bytes_written = 0;
#pragma omp parallel reduction(+ : failed, bytes_written)
    {
        buffers b = {0};
        b.comp = libdeflate_alloc_compressor(level);
#pragma omp for schedule(dynamic, 1)
        for (long c = 0; c < ncases; c++) {
            rng r = {seed * 0x100000001B3ull + (uint64_t)c};
            int ct = c < nct;
            grid g;
            if (ct) {
                g.nx = g.ny = 512;
                g.nz = 80 + (int)(next_u64(&r) % 171);
                g.sp[0] = g.sp[1] = uniform(&r, 0.6, 0.9);
                g.sp[2] = uniform(&r, 1.0, 3.0);
            } else {
                g.nx = 320;
                g.ny = 260;
                g.nz = 40 + (int)(next_u64(&r) % 41);
                g.sp[0] = g.sp[1] = uniform(&r, 1.0, 1.6);
                g.sp[2] = uniform(&r, 3.0, 7.0);
            }
            shape ref, a, bb, rb;
            make_shape(&r, &g, &ref);
            perturb(&r, &ref, 1.5, 0.06, &a);
            perturb(&r, &ref, 3.0, 0.12, &bb);
            perturb(&r, &ref, 1.0, 0.04, &rb);
            int b_empty = next_u64(&r) % 100 == 0;
            const shape *sh[4] = {&ref, &a, b_empty ? NULL : &bb, &rb};
            for (int d = 0; d < 4; d++) {
                if (d == 3 && c % 10 != 0)
                    continue;
                char file[4200]; /* per thread */
                snprintf(file, sizeof file, "%s/%s/case_%04ld.nii.gz", out, dirs[d], c);
                if (exists(file))
                    continue;
                if (!b.comp || write_case_file(file, &g, sh[d], &b)) {
                    failed++;
                    continue;
                }
                struct stat st;
                if (!stat(file, &st))
                    bytes_written += (size_t)st.st_size;
            }
        }
        free(b.raw);
        free(b.gz);
        libdeflate_free_compressor(b.comp);
    }
    if (failed) {
        fprintf(stderr, "gen_scale: %d files could not be written under %s\n", failed, out);
        return 1;
    }
    snprintf(path, sizeof path, "%s/manifest.tsv", out);
    FILE *m = fopen(path, "w");
    if (!m) {
        perror(path);
        return 1;
    }
    fprintf(m, "# synthetic paper-scale set (bench/gen_scale.c): %ld cases, %ld CT, seed %llu\n",
            ncases, nct, (unsigned long long)seed);
    fprintf(m, "case\tsubject\tmodality\tcenter\tref\trater:B\tpred:modelA\tpred:modelB\n");
    for (long c = 0; c < ncases; c++) {
        int ct = c < nct;
        const char *mod = ct ? "CT" : ((c - nct) % 2 ? "T2W" : "T1W");
        const char *cen = ct ? ct_centers[c % 4] : mr_centers[(c - nct) / 2 % 5];
        fprintf(m, "case_%04ld\tsubj_%04ld\t%s\t%s\tlabels/case_%04ld.nii.gz\t", c, ct ? c : nct +
                (c - nct) / 2, mod, cen, c);
        if (c % 10 == 0)
            fprintf(m, "raterB/case_%04ld.nii.gz", c);
        fprintf(m, "\tmodelA/case_%04ld.nii.gz\tmodelB/case_%04ld.nii.gz\n", c, c);
    }
    if (fclose(m)) {
        perror(path);
        return 1;
    }
    fprintf(stderr, "gen_scale: %ld cases (%ld CT, %ld MRI) in %s, %.1f MB written now\n",
            ncases, nct, ncases - nct, out, bytes_written / 1e6);
    return 0;
}
