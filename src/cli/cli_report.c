/* cli_report.c - option handling and printing shared by the table commands. */
#include "cli_report.h"

#include <stdlib.h>
#include <string.h>

int cli_report_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
                      const struct option *longopts, cli_common *common,
                      ps_report_format *fmt)
{
    /* one message of our own for a bad option: a leading ':' makes getopt report a missing
     * argument as ':' and opterr = 0 silences its messages */
    char opts[64];
    snprintf(opts, sizeof opts, ":%s", shortopts);
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, opts, longopts, NULL)) != -1) {
        if (c == CLI_OPT_FORMAT && !fmt)
            return c;
        if (c == CLI_OPT_FORMAT) {
            if (ps_report_format_parse(optarg, fmt)) {
                cli_usage_error(cmd, "%s", ps_error_message());
                return CLI_GETOPT_ERROR;
            }
            common->format_set = 1;
            continue;
        }
        if (c == '?' || c == ':') {
            /* a long option is named by its argv word (up to '='), a short one by optopt */
            char o[128] = {'-', (char)optopt, 0};
            const char *word = argv[optind - 1];
            if (!strncmp(word, "--", 2) || !optopt)
                snprintf(o, sizeof o, "%.*s", (int)strcspn(word, "="), word);
            cli_usage_error(cmd, c == '?' ? "unknown option '%s'" : "option '%s' needs an "
                            "argument", o);
            return CLI_GETOPT_ERROR;
        }
        int h = cli_common_option(common, c, optarg);
        if (h < 0)
            return CLI_GETOPT_ERROR;
        if (!h)
            return c;
    }
    return -1;
}

int cli_report_output_format(const char *cmd, const cli_common *common, ps_report_format *fmt)
{
    ps_report_format by_suffix;
    if (!common->output || !strcmp(common->output, "-") ||
        !ps_report_format_from_path(common->output, &by_suffix))
        return 0;
    if (!common->format_set) {
        *fmt = by_suffix;
        return 0;
    }
    if (by_suffix != *fmt)
        return cli_usage_error(cmd, "--format and the suffix of -o '%s' disagree",
                               common->output);
    return 0;
}

int cli_report_finish(const char *cmd, const cli_common *common, int rc, const ps_rtable *rt,
                      ps_report_format fmt)
{
    if (rc)
        return cli_report_error(cmd, rc);
    for (int i = 0; i < ps_rtable_nmessages(rt); i++) {
        int is_error;
        const char *m = ps_rtable_message(rt, i, &is_error);
        if (is_error)
            fprintf(stderr, "panseval %s: %s\n", cmd, m);
        else
            ps_log(&common->ctx, PS_LOG_WARN, "%s", m);
    }
    ps_atomic_file *af;
    FILE *f;
    if ((rc = cli_output_open(common, &af, &f)) ||
        (rc = cli_output_close(af, ps_rtable_write(rt, f, fmt))))
        return cli_report_error(cmd, rc);
    return ps_rtable_nerrors(rt) ? 1 : 0;
}

int cli_report_list(const char *cmd, const char *opt, const char *s, int allow_none,
                    char **copy, char ***items, int *n)
{
    if (allow_none && !strcmp(s, "none"))
        s = "";
    if (cli_split_list(s, copy, items, n))
        return cli_report_error(cmd, PS_ERR_NOMEM);
    if (*n == 0 && !allow_none)
        return cli_usage_error(cmd, "%s lists no column", opt);
    return 0;
}
