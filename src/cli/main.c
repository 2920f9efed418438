/* main.c - `panseval <command> [options]`: dispatch to one main_<command>() per file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "ps_config.h"

typedef struct cli_command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} cli_command;

static const cli_command commands[] = {
#define PS_CMD(name, fn, summary) {name, fn, summary},
#include "commands.def"
#undef PS_CMD
    {NULL, NULL, NULL},
};
#define NCOMMANDS ((int)(sizeof commands / sizeof commands[0]) - 1)

static void usage(FILE *f)
{
    fprintf(f,
            "panseval %s - evaluate and benchmark 3D medical image segmentation\n"
            "\n"
            "Usage: panseval <command> [options]\n"
            "       panseval <command> --help     the manual of one command\n"
            "       panseval help <command>       the same\n"
            "\n"
            "Commands:\n",
            PS_VERSION);
    for (int i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n"
               "Exit status: 0 success, 1 some cases or inputs failed (results for the others\n"
               "are still written), 2 usage error.\n"
               "Documentation: README.md; metric conventions in docs/metrics.md.\n");
}

/* OpenMP threads that wait for work spin by default. On a machine shared with other jobs,
 * or with more threads than free cores, the spinning thread steals the core the working one
 * needs: measured here, a 2-thread `metrics` run of one case took twice as long as 1 thread.
 * Sleeping waiters (OMP_WAIT_POLICY=passive) cost a few microseconds per parallel region and
 * remove that. libgomp reads the variable only when it is loaded, so when the user has not
 * chosen a policy we set it and start again. PANSEVAL_NO_REEXEC=1 disables this. */
static void prefer_passive_omp_wait(char **argv)
{
    if (getenv("OMP_WAIT_POLICY") || getenv("PANSEVAL_NO_REEXEC"))
        return;
    if (setenv("OMP_WAIT_POLICY", "passive", 1) || setenv("PANSEVAL_NO_REEXEC", "1", 1))
        return;
    execv("/proc/self/exe", argv);
    /* exec failed (no /proc): carry on with the default policy */
}

int main(int argc, char **argv)
{
    prefer_passive_omp_wait(argv);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "help") && argc >= 3) { /* panseval help CMD = panseval CMD --help */
        if (argc > 3) {
            fprintf(stderr, "panseval help: give one command\n");
            return 2;
        }
        for (int i = 0; i < NCOMMANDS; i++) {
            if (!strcmp(argv[2], commands[i].name)) {
                char *args[] = {argv[2], "--help", NULL};
                int rc = commands[i].fn(2, args);
                return fclose(stdout) ? 1 : rc;
            }
        }
        fprintf(stderr, "panseval help: unknown command '%s'\n\n", argv[2]);
        usage(stderr);
        return 2;
    }
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return fclose(stdout) ? 1 : 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("panseval %s\n", PS_VERSION);
        return fclose(stdout) ? 1 : 0;
    }
    for (int i = 0; i < NCOMMANDS; i++) {
        if (!strcmp(cmd, commands[i].name)) {
            int rc = commands[i].fn(argc - 1, argv + 1);
            /* catch late write errors on stdout (full disk, closed pipe) */
            if (fflush(stdout) || ferror(stdout) || fclose(stdout)) {
                perror("panseval: error writing standard output");
                return rc ? rc : 1;
            }
            return rc;
        }
    }
    fprintf(stderr, "panseval: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
