/* The command lines of the dataset tools, fcnet_convert and fcnet_synth: flags that each take one value, --help or
 * -h in place of any flag, and usage errors as one line on stderr, "<tool>: <reason> (see <tool> --help)", exit 2.
 * One parser, so that both tools answer an unknown flag (naming the nearest for a near miss, as fcnet_dist does), a
 * missing value and a malformed count alike. */
#ifndef FCNET_DATASETS_ARGS_H
#define FCNET_DATASETS_ARGS_H

/* fc_args_parse's answer to --help or -h; a usage error is FC_ERR_INPUT (2), as the tools' exit status. */
#define FC_ARGS_HELP (-1)

typedef struct fc_args_tool {
    const char *name;          /* "fcnet_synth": starts every message */
    const char *const *flags;  /* "--out", ...: the flags it knows, each taking one value and starting with "--" */
    int n_flags;
    const char *missing_value; /* the message for a flag given last, its "%s" the flag: each tool keeps its wording */
    const char *usage;         /* the text --help prints */
} fc_args_tool;

/* Receives each "flags[flag] value" pair in order: 0 to go on, or a usage error's status (fc_args_usage_error). */
typedef int (*fc_args_setter)(void *ctx, int flag, const char *value);

/* Hands the pairs of argv[first..argc) to set, each "--flag value" or "--flag=value" (as fcnet_dist takes them).
 * Returns 0, FC_ARGS_HELP (the usage printed) for --help or -h where a flag may stand (not after a bad one's value:
 * the first problem wins), set's usage error, or its own for an unknown flag ("did you mean" the nearest flag when
 * it is a near miss) or a flag given last without its value. */
int fc_args_parse(const fc_args_tool *tool, int argc, char **argv, int first, fc_args_setter set, void *ctx);

/* Whether arg asks for the usage text: --help or -h. */
int fc_args_is_help(const char *arg);

/* Prints the tool's usage on stdout and returns FC_ARGS_HELP; FC_ERR_FAIL (1), after one line on stderr, when the
 * usage could not be written (a full disk, a closed file). */
int fc_args_help(const fc_args_tool *tool);

/* Records "<reason>" (printf's fmt) as the FC_ERR_INPUT error, prints it as the tool's usage error and returns
 * FC_ERR_INPUT. A newline a value brought in is folded: the message stays one line. */
int fc_args_usage_error(const fc_args_tool *tool, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Whether value is a decimal integer in [min, max], then stored in *out: an optional sign and digits, nothing
 * before or after them (strtoll would skip leading blanks) and none beyond 64 bits (strtoll would clamp them). */
int fc_args_integer(long long *out, const char *value, long long min, long long max);

#endif
