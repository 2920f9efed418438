/* settings.c - the evaluation settings and their option names (shared by every command that
 * evaluates), and the status names of the per-case table. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ps_eval.h"

static const char *const status_names[PS_EVAL_NSTATUS] = {
    "ok", "pred_empty", "ref_empty", "both_empty", "missing", "error"};

const char *ps_eval_status_name(ps_eval_status s)
{
    return (unsigned)s < PS_EVAL_NSTATUS ? status_names[s] : "unknown";
}

int ps_eval_status_parse(const char *s, ps_eval_status *out)
{
    for (int i = 0; i < PS_EVAL_NSTATUS; i++)
        if (!strcmp(s, status_names[i])) {
            *out = (ps_eval_status)i;
            return PS_OK;
        }
    return ps_error(PS_ERR_ARG, "unknown status '%s' (expected ok, pred_empty, ref_empty, "
                    "both_empty, missing or error)", s);
}

void ps_eval_settings_init(ps_eval_settings *s)
{
    memset(s, 0, sizeof *s);
    ps_metrics_options_init(&s->metrics);
    s->geometry = PS_GEOMETRY_STRICT;
    s->geometry_tol_mm = 1e-4;
}

void ps_eval_settings_clear(ps_eval_settings *s)
{
    free(s->regions);
    s->regions = NULL;
    s->nregions = 0;
}

const char *const ps_eval_settings_help =
    "Metric options:\n"
    "  --labels LIST       labels or regions to evaluate, e.g. 1,2 or 1,2,1+2 (a region\n"
    "                      'a+b' is the union of labels a and b, like nnU-Net regions); a\n"
    "                      label or region listed twice is an error. Default: every non-zero\n"
    "                      label present in either volume of the case (label 1 when both are\n"
    "                      empty, reported as both_empty)\n"
    "  --hd95 NAME         HD95 convention (default medpy):\n"
    "                        medpy        95th percentile, linear interpolation, of the\n"
    "                                     pooled distances of both directions (MedPy hd95;\n"
    "                                     what nnU-Net v1 and PanSegNet report)\n"
    "                        monai        larger of the two directed 95th percentiles\n"
    "                        deepmind     area-weighted surfels, no interpolation, larger\n"
    "                                     of the two directions (surface-distance package)\n"
    "                        plastimatch  mean of the two directed values, each the sorted\n"
    "                                     distance at index floor(0.95 n - 1)\n"
    "  --percentile Q      the Q-th percentile instead of the 95th, Q in [0,100] (default 95)\n"
    "  --nsd-tol MM        tolerance of the normalised surface distance (default 2 mm)\n"
    "  --nsd-method M      voxel (boundary voxels, default) or surfel (area-weighted)\n"
    "  --empty POLICY      distance metrics when exactly one mask is empty: nan (default),\n"
    "                      inf, or worst (the image diagonal in mm); nsd is 0 for inf/worst\n"
    "  --empty-dice V      dice and jaccard when both masks are empty: one (default) or nan\n"
    "  --no-distances      overlap and volume metrics only (much faster)\n"
    "  --geometry POLICY   strict (default): reference and prediction must share the voxel\n"
    "                      grid (dims; spacing and origin within --geometry-tol; directions\n"
    "                      within 1e-5), else the case is an error row (geometry=mismatch).\n"
    "                      ref-grid: the dims must be equal, the headers may disagree (e.g.\n"
    "                      an RAS/LPS mix-up in the label files); the case is evaluated on the\n"
    "                      reference's grid and flagged geometry=ref_grid, with the\n"
    "                      difference in its message\n"
    "  --geometry-tol MM   tolerance of spacing and origin in mm (default 0.0001)\n"
    "  --fail-fast         stop at the first case that fails (default: report it as a row\n"
    "                      with status=error and go on; the exit status is 1 at the end)\n";

static const char *const known_names[] = {
    "labels", "hd95", "percentile", "nsd-tol", "nsd-method", "empty", "empty-dice",
    "no-distances", "geometry", "geometry-tol", "fail-fast"};

int ps_eval_settings_known(const char *name)
{
    for (size_t i = 0; i < sizeof known_names / sizeof known_names[0]; i++)
        if (!strcmp(name, known_names[i]))
            return 1;
    return 0;
}

static int parse_number(const char *name, const char *v, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double x = v ? strtod(v, &end) : NAN;
    if (!v || errno || end == v || *end || !(x >= lo && x <= hi))
        return ps_error(PS_ERR_ARG, "--%s expects a number from %g to %g, got '%s'", name, lo,
                        hi, v ? v : "");
    *out = x;
    return PS_OK;
}

int ps_eval_settings_set(ps_eval_settings *s, const char *name, const char *v)
{
    int rc = PS_OK;
    int needs_value = strcmp(name, "no-distances") && strcmp(name, "fail-fast");
    if (needs_value && !v)
        return ps_error(PS_ERR_ARG, "--%s needs a value", name);
    if (!strcmp(name, "labels")) {
        ps_region *r = NULL;
        int n = 0;
        if ((rc = ps_region_list_parse(v, &r, &n)))
            return ps_error_context(rc, "--labels");
        free(s->regions);
        s->regions = r;
        s->nregions = n;
    } else if (!strcmp(name, "hd95")) {
        rc = ps_hd_method_parse(v, &s->metrics.hd_method);
    } else if (!strcmp(name, "percentile")) {
        rc = parse_number(name, v, 0, 100, &s->metrics.percentile);
    } else if (!strcmp(name, "nsd-tol")) {
        rc = parse_number(name, v, 0, 1e9, &s->metrics.nsd_tol_mm);
    } else if (!strcmp(name, "nsd-method")) {
        rc = ps_nsd_method_parse(v, &s->metrics.nsd_method);
    } else if (!strcmp(name, "empty")) {
        rc = ps_empty_policy_parse(v, &s->metrics.empty);
    } else if (!strcmp(name, "empty-dice")) {
        rc = ps_empty_dice_parse(v, &s->metrics.empty_dice);
    } else if (!strcmp(name, "no-distances")) {
        s->metrics.distances = 0;
    } else if (!strcmp(name, "fail-fast")) {
        s->fail_fast = 1;
    } else if (!strcmp(name, "geometry")) {
        if (!strcmp(v, "strict"))
            s->geometry = PS_GEOMETRY_STRICT;
        else if (!strcmp(v, "ref-grid"))
            s->geometry = PS_GEOMETRY_REF_GRID;
        else
            rc = ps_error(PS_ERR_ARG, "--geometry must be strict or ref-grid, got '%s'", v);
    } else if (!strcmp(name, "geometry-tol")) {
        rc = parse_number(name, v, 0, 1e6, &s->geometry_tol_mm);
    } else {
        return ps_error(PS_ERR_ARG, "unknown evaluation setting '%s'", name);
    }
    if (rc && !strstr(ps_error_message(), name))
        ps_error_context(rc, "--%s", name);
    return rc;
}
