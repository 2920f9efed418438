/* cli_report.c - output format and printing shared by the table commands. */
#include "cli_report.h"

#include <stdlib.h>
#include <string.h>

ps_report_format cli_report_format(const cli_common *c)
{
    if (!c->format_set || c->text == 1)
        return PS_REPORT_TEXT;
    return cli_report_format_of(c->format);
}

ps_report_format cli_report_format_of(ps_table_format f)
{
    switch (f) {
    case PS_TABLE_CSV: return PS_REPORT_CSV;
    case PS_TABLE_TSV: return PS_REPORT_TSV;
    case PS_TABLE_JSON: return PS_REPORT_JSON;
    case PS_TABLE_MD: return PS_REPORT_MD;
    case PS_TABLE_TEX: return PS_REPORT_TEX;
    }
    return PS_REPORT_TEXT;
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
