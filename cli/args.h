/* Number parsing for the rnn tool's options, shared by every command (and fuzzed by
 * fuzz/fuzz_cli_args.c): the whole text must be the number, within the stated range. */
#ifndef RNN_CLI_ARGS_H
#define RNN_CLI_ARGS_H

/* A decimal integer in [lo, hi]. 0 and *out set, or -1 (empty, trailing text, out of range). */
int cli_parse_int(const char *text, long lo, long hi, long *out);
/* A decimal number in [lo, hi). 0 and *out set, or -1 (empty, trailing text, NaN, out of
 * range). */
int cli_parse_fraction(const char *text, double lo, double hi, double *out);

/* Option "NAME VALUE" or "NAME=VALUE" at argv[*i]: 1 with *value set (and *i moved to the
 * value's argument), 0 when argv[*i] is another option, -1 when the value is missing (printed,
 * naming cmd and the option). */
int cli_opt(const char *cmd, int argc, char **argv, int *i, const char *name, const char **value);
/* -h or --help. */
int cli_is_help(const char *arg);

#endif
