/* panseval.h - the whole public API of libpanseval in one include.
 *
 * Installed as <panseval/panseval.h>; `pkg-config --cflags panseval` puts include/panseval on
 * the include path, so the module headers below are found by their bare names, exactly as
 * inside the source tree. Each module header states ownership, thread safety and units.
 *
 *   ps_core.h      status codes, the per-thread error message, the run context, logging
 *   ps_io.h        NIfTI volumes with geometry, CSV/TSV/JSON tables, atomic output files
 *   ps_manifest.h  data manifests and the synthetic demo data set
 *   ps_metrics.h   per-case segmentation metrics (overlap, volumes, distances, NSD)
 *   ps_eval.h      the per-case table and the evaluation driver (plans, streamed rows);
 *                  the multi-rater drivers (agreement tables, fuse)
 *   ps_stats.h     statistics on numbers (tests, intervals, regression, agreement)
 *   ps_reports.h   analyses of per-case tables and their rendering
 *   ps_infer.h     nnU-Net v1 / PanSegNet checkpoints and the network
 *
 * Symbols: libpanseval exports only names starting with ps_ (see src/libpanseval.map).
 */
#ifndef PANSEVAL_H
#define PANSEVAL_H

#include "ps_core.h"
#include "ps_io.h"
#include "ps_manifest.h"
#include "ps_metrics.h"
#include "ps_eval.h"
#include "ps_eval_dist.h"
#include "ps_stats.h"
#include "ps_reports.h"
#include "ps_infer.h"

#endif /* PANSEVAL_H */
