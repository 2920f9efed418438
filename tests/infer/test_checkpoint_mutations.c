/* Robustness of the checkpoint readers: deterministic random mutations of the fixture files
 * (truncations, byte flips, extreme values in ZIP fields, and edits inside data.pkl with the
 * CRC recomputed so the pickle decoder and the tensor checks see them). Each must end in
 * success or in an error with a message, never in a crash; run under ASan/UBSan or valgrind to
 * also catch silent memory errors. The same entry point is the libFuzzer target. */
#define PS_FUZZ_NO_ENTRY
#include "../fuzz/fuzz_checkpoint.c"

#include "ps_test.h"

static uint64_t rng_state;
/* splitmix64 (Steele, Lea, Flood 2014): a fixed, portable sequence */
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static size_t rnd_below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

static uint8_t *slurp_mode(const char *rel, int mode, size_t *n)
{
    FILE *f = fopen(ps_test_path(rel), "rb");
    ck_assert_msg(f != NULL, "cannot open %s", rel);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)len + 1);
    b[0] = (uint8_t)mode;
    ck_assert_int_eq(fread(b + 1, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len + 1;
    return b;
}

static int successes, failures;

static void run_one(const uint8_t *b, size_t n)
{
    ps_error_clear();
    int rc = ps_fuzz_checkpoint_one(b, n);
    ck_assert_msg(rc <= 0, "positive status %d", rc);
    if (rc) {
        ck_assert_msg(ps_error_message()[0] != 0, "error %d without a message", rc);
        failures++;
    } else {
        successes++;
    }
}

/* Truncations and random byte changes of a whole file. */
static void mutate_file(const uint8_t *orig, size_t n, int rounds, size_t tail)
{
    uint8_t *b = malloc(n);
    for (int r = 0; r < rounds; r++) {
        memcpy(b, orig, n);
        size_t len = n;
        switch (r % 4) {
        case 0:   /* truncate */
            len = 1 + rnd_below(n - 1);
            break;
        case 1:   /* flip 1-8 bytes anywhere */
            for (int k = 1 + (int)rnd_below(8); k > 0; k--)
                b[1 + rnd_below(n - 1)] ^= (uint8_t)(1 + rnd_below(255));
            break;
        case 2: { /* flip bytes near the end (ZIP central directory, pickle tail) */
            size_t lo = n > tail + 1 ? n - tail : 1;
            for (int k = 1 + (int)rnd_below(4); k > 0; k--)
                b[lo + rnd_below(n - lo)] ^= (uint8_t)(1 + rnd_below(255));
            break;
        }
        default: { /* extreme 32-bit value at a random place near the end */
            static const uint32_t vals[] = {0, 0xffffffffu, 0x7fffffffu, 0xffffu, 0x80000000u, 1};
            size_t lo = n > tail + 5 ? n - tail : 1;
            size_t at = lo + rnd_below(n - lo - 4);
            uint32_t v = vals[rnd_below(6)];
            for (int k = 0; k < 4; k++)
                b[at + k] = (uint8_t)(v >> (8 * k));
            break;
        }
        }
        run_one(b, len);
    }
    free(b);
}

/* Edit bytes inside <prefix>/data.pkl of a zip (mode byte at b[0]) and fix both CRCs. */
static void mutate_data_pkl(const uint8_t *orig, size_t n, int rounds)
{
    ps_zip *z;
    ck_assert_int_eq(ps_zip_open(orig + 1, n - 1, &z), 0);
    ps_zip_entry *e = ps_zip_find(z, "data.pkl");
    ck_assert_ptr_nonnull(e);
    size_t off = 1 + (size_t)e->offset, size = (size_t)e->size;
    char name[300];
    snprintf(name, sizeof name, "%s", e->name);
    ps_zip_free(z);
    /* local header at the start (data.pkl is the first entry) and its central record */
    ck_assert(orig[1] == 'P' && orig[2] == 'K' && orig[3] == 3 && orig[4] == 4);
    size_t central = 0, nl = strlen(name);
    for (size_t i = n - 46; i > 1; i--)
        if (orig[i] == 'P' && orig[i + 1] == 'K' && orig[i + 2] == 1 && orig[i + 3] == 2 &&
            i + 46 + nl <= n && !memcmp(orig + i + 46, name, nl)) {
            central = i;
            break;
        }
    ck_assert_uint_ne(central, 0);
    uint8_t *b = malloc(n);
    for (int r = 0; r < rounds; r++) {
        memcpy(b, orig, n);
        if (r % 3 == 2) {   /* replace a run with one repeated opcode-like byte */
            size_t at = rnd_below(size), run = 1 + rnd_below(16);
            uint8_t v = (uint8_t)rnd();
            for (size_t k = at; k < at + run && k < size; k++)
                b[off + k] = v;
        } else {
            for (int k = 1 + (int)rnd_below(r % 3 ? 2 : 6); k > 0; k--)
                b[off + rnd_below(size)] ^= (uint8_t)(1 + rnd_below(255));
        }
        uint32_t crc = ps_crc32(0, b + off, size);
        for (int k = 0; k < 4; k++) {
            b[1 + 14 + k] = (uint8_t)(crc >> (8 * k));
            b[central + 16 + k] = (uint8_t)(crc >> (8 * k));
        }
        run_one(b, n);
    }
    free(b);
}

START_TEST(mutated_checkpoints)
{
    size_t n;
    uint8_t *b = slurp_mode("golden/infer/tensors/dtypes.pt", 0, &n);
    rng_state = 1;
    run_one(b, n);
    ck_assert_int_eq(successes, 1);   /* the unmodified file reads */
    mutate_file(b, n, 2000, 1024);
    mutate_data_pkl(b, n, 3000);
    free(b);
    b = slurp_mode("golden/infer/tensors/bigendian.pt", 0, &n);   /* ZIP64 records */
    int before = successes;
    run_one(b, n);
    ck_assert_int_eq(successes, before + 1);
    mutate_file(b, n, 1500, 256);
    mutate_data_pkl(b, n, 1000);
    free(b);
    b = slurp_mode("golden/infer/legacy/fold_0/model_final_checkpoint.model", 0, &n);
    before = successes;
    run_one(b, n);   /* pre-1.6 stream of pickles and raw storages */
    ck_assert_int_eq(successes, before + 1);
    mutate_file(b, n, 2000, 4096);
    free(b);
    b = slurp_mode("golden/infer/unet_3class/fold_0/model_final_checkpoint.model", 0, &n);
    mutate_file(b, n, 400, 8192);
    mutate_data_pkl(b, n, 1000);
    free(b);
    ck_assert_int_gt(failures, 0);
}
END_TEST

START_TEST(mutated_pickles)
{
    static const char *const files[] = {
        "golden/infer/unet_2class/fold_0/model_final_checkpoint.model.pkl",
        "golden/infer/unet_3class/fold_0/model_final_checkpoint.model.pkl",
        "golden/infer/pansegnet/plans.pkl",
    };
    rng_state = 2;
    successes = failures = 0;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        size_t n;
        uint8_t *b = slurp_mode(files[f], 1, &n);
        mutate_file(b, n, 2500, 256);
        free(b);
    }
    ck_assert_int_gt(failures, 0);
    ck_assert_int_gt(successes, 0);
}
END_TEST

static Suite *mutation_suite(void)
{
    Suite *s = suite_create("checkpoint_mutations");
    TCase *tc = tcase_create("mutations");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, mutated_checkpoints);
    tcase_add_test(tc, mutated_pickles);
    suite_add_tcase(s, tc);
    return s;
}

PS_TEST_MAIN(mutation_suite)
