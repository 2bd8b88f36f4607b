/* The dataset tools' command lines (args.h). */
#include "args.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcnet/common.h"
#include "fcnet/suggest.h"

int fc_args_is_help(const char *arg) { return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0; }

int fc_args_help(const fc_args_tool *tool)
{
    errno = 0;
    fputs(tool->usage, stdout);
    /* --help exists for what it prints: a usage lost to a full disk or a closed file is a failure, as for
     * fcnet_dist --help, not exit 0 */
    if (fflush(stdout) == 0 && !ferror(stdout)) return FC_ARGS_HELP;
    const int err = errno;
    fprintf(stderr, "%s: cannot write to standard output%s%s%s: the usage is lost\n", tool->name, err ? " (" : "",
            err ? strerror(err) : "", err ? ")" : "");
    return FC_ERR_FAIL;
}

int fc_args_usage_error(const fc_args_tool *tool, const char *fmt, ...)
{
    char reason[16384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    /* Through fc_error_set, which folds a newline in a value ("--val '5<LF>'"): one line, as every message. */
    fc_error_set(FC_ERR_INPUT, "%s", reason);
    fprintf(stderr, "%s: %s (see %s --help)\n", tool->name, fc_error_message(), tool->name);
    return FC_ERR_INPUT;
}

/* The length of the flag's name in arg: all of it, or what comes before the '=' of "--flag=value", the form
 * fcnet_dist takes too. */
static size_t name_length(const char *arg)
{
    const char *eq = strncmp(arg, "--", 2) == 0 ? strchr(arg, '=') : NULL;
    return eq ? (size_t)(eq - arg) : strlen(arg);
}

/* The index of the flag that arg names ("--out" or "--out=F"), or -1. */
static int flag_index(const fc_args_tool *tool, const char *arg)
{
    const size_t len = name_length(arg);
    for (int k = 0; k < tool->n_flags; k++)
        if (strlen(tool->flags[k]) == len && strncmp(arg, tool->flags[k], len) == 0) return k;
    return -1;
}

/* "unknown option '--feature' (did you mean --features?)": the nearest flag by fcnet_dist's rule (suggest.h), the
 * word compared without its dashes (and its "=value") as fcnet_dist compares it, so "-feature" and "feature" are
 * near misses too. */
static int unknown_option(const fc_args_tool *tool, const char *arg)
{
    const size_t dashes = arg[0] != '-' ? 0 : arg[1] != '-' ? 1 : 2;
    const int k = fc_nearest_name(arg + dashes, name_length(arg) - dashes, tool->flags, tool->n_flags, 2);
    if (k < 0) return fc_args_usage_error(tool, "unknown option '%s'", arg);
    return fc_args_usage_error(tool, "unknown option '%s' (did you mean %s?)", arg, tool->flags[k]);
}

int fc_args_parse(const fc_args_tool *tool, int argc, char **argv, int first, fc_args_setter set, void *ctx)
{
    for (int i = first; i < argc; i++) {
        const char *arg = argv[i];
        if (fc_args_is_help(arg)) return fc_args_help(tool);
        const int flag = flag_index(tool, arg);
        /* before the value: a misspelt flag given last is unknown, not one missing its value */
        if (flag < 0) return unknown_option(tool, arg);
        const size_t len = name_length(arg);
        if (arg[len] == '\0' && i + 1 >= argc) return fc_args_usage_error(tool, tool->missing_value, arg);
        const int rc = set(ctx, flag, arg[len] == '=' ? arg + len + 1 : argv[++i]);
        if (rc) return rc;
    }
    return 0;
}

int fc_args_integer(long long *out, const char *value, long long min, long long max)
{
    char *end;
    errno = 0;
    const long long v = strtoll(value, &end, 10);
    if (*value == '\0' || isspace((unsigned char)*value) || *end != '\0' || errno == ERANGE || v < min || v > max)
        return 0;
    *out = v;
    return 1;
}
