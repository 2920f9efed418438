/* fuzz_checkpoint.c - libFuzzer target for the checkpoint readers (src/infer/zip.c, pickle.c,
 * checkpoint.c).
 *
 * Input: one mode byte, then the payload. Even mode: the payload is a torch.save archive, read
 * into a state dict. Odd mode: the payload is a pickle, decoded and then read as a .model.pkl
 * (info dict with plans) and as a bare plans dict. Every outcome must be a success or an error
 * with a message: no crash, no leak, no unbounded allocation.
 *
 * Build: meson setup build-fuzz -Dfuzz=true (with CC=clang), then
 *   build-fuzz/tests/infer/fuzz_checkpoint -max_len=300000 CORPUS_DIR
 * Seed corpus: tests/golden/infer (prefix each file with a mode byte: see docs/checkpoints.md).
 * The Check test tests/infer/test_checkpoint_mutations.c runs the same function over
 * deterministic mutations of the fixtures in every normal test run.
 */
#include "ckpt_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Returns 0 when the input was read, else the (negative) PS_ERR_* status of the reader. */
static int ps_fuzz_checkpoint_one(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int mode = data[0] & 1;
    data++, size--;
    int rc;
    if (mode == 0) {
        ps_state_dict sd;
        rc = ps_checkpoint_parse_state_dict(data, size, "fuzz.model", &sd);
        if (!rc) {
            /* touch every converted value so sanitizers see any bad buffer */
            volatile float acc = 0;
            for (int i = 0; i < sd.n; i++)
                for (int64_t k = 0; k < sd.tensors[i].numel; k++)
                    acc += sd.tensors[i].data[k];
            (void)acc;
        }
        ps_state_dict_clear(&sd);
        return rc;
    }
    ps_pickle *p;
    ps_pk *root;
    rc = ps_pickle_parse(data, size, "fuzz.pkl", &p, &root);
    if (rc)
        return rc;
    ps_plans plans;
    rc = ps_plans_from_pk(root, ps_pk_dict_get(root, "plans"), &plans);
    int rc2 = ps_plans_from_pk(NULL, root, &plans);
    ps_pickle_free(p);
    return rc && rc2 ? rc : 0;   /* success when either reading applies */
}

#ifndef PS_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ps_fuzz_checkpoint_one(data, size);
    return 0;
}
#endif
