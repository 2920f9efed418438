/* consumer.c - a program that knows panseval only as an installed library: it is compiled by
 * tests/install/test_install.sh with the flags of `pkg-config --cflags --libs panseval`
 * against the files `meson install` wrote, and run against the installed libpanseval.so.
 *
 * It builds two masks on a 10 x 10 x 10 grid of 1 x 1 x 2 mm voxels and evaluates them:
 *   ref  = the box i, j, k in [2, 6)   -> 4*4*4 = 64 voxels
 *   pred = the box i, j, k in [3, 7)   -> 64 voxels, overlap [3, 6)^3 = 27 voxels
 * Hand calculation: Dice = 2*27 / (64 + 64) = 0.421875 exactly; each mask has a volume of
 * 64 voxels * 2 mm^3 = 128 mm^3 = 0.128 ml. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <panseval.h>

static void fill_box(ps_volume *v, int lo, int hi)
{
    uint8_t *d = v->data;
    for (int k = lo; k < hi; k++)
        for (int j = lo; j < hi; j++)
            for (int i = lo; i < hi; i++)
                d[(k * 10 + j) * 10 + i] = 1;
}

int main(int argc, char **argv)
{
    const char *want_version = argc > 1 ? argv[1] : NULL;
    if (want_version && strcmp(ps_version(), want_version)) {
        fprintf(stderr, "consumer: ps_version() = %s, expected %s\n", ps_version(), want_version);
        return 1;
    }
    ps_geometry g;
    ps_geometry_init(&g, 10, 10, 10, 1.0, 1.0, 2.0);
    ps_volume *ref = NULL, *pred = NULL;
    if (ps_volume_create(&g, 1, PS_DT_UINT8, &ref) || ps_volume_create(&g, 1, PS_DT_UINT8, &pred)) {
        fprintf(stderr, "consumer: %s\n", ps_error_message());
        return 1;
    }
    fill_box(ref, 2, 6);
    fill_box(pred, 3, 7);
    ps_region region = {.n = 1, .labels = {1}};
    ps_case_metrics m;
    if (ps_metrics_compute(ref, pred, &region, NULL, NULL, &m)) {
        fprintf(stderr, "consumer: %s\n", ps_error_message());
        return 1;
    }
    ps_volume_free(ref);
    ps_volume_free(pred);
    int ok = m.status == PS_CASE_OK && m.tp == 27 && m.fp == 37 && m.fn == 37 &&
             m.dice == 0.421875 && fabs(m.vol_ref_ml - 0.128) < 1e-12 &&
             fabs(m.vol_pred_ml - 0.128) < 1e-12;
    printf("panseval %s: tp %lld fp %lld fn %lld dice %.17g vol_ref_ml %.17g\n", ps_version(),
           (long long)m.tp, (long long)m.fp, (long long)m.fn, m.dice, m.vol_ref_ml);
    return ok ? 0 : 1;
}
