/* The command line of `crisp replay`, and the dispatch to its four modes. */
#include "replay.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "config/options.h"
#include "record/recording.h"
#include "replay_check.h"
#include "replay_print.h"
#include "replay_send.h"
#include "replay_serve.h"

#define DEFAULT_TIMEOUT_S 60
#define MAX_IGNORE        64

enum mode { MODE_NONE, MODE_SEND, MODE_SERVE, MODE_CHECK, MODE_PRINT };

struct replay_args {
        const char *file;
        enum mode mode;
        char endpoint[108]; /* --runtime-endpoint or --serve */
        char *ignore[MAX_IGNORE];
        size_t n_ignore;
        long timeout_s;
        enum crisp_log_level log_level;
        bool help;
};

enum {
        OPT_RUNTIME_ENDPOINT = 256,
        OPT_SERVE,
        OPT_CHECK,
        OPT_PRINT,
        OPT_IGNORE,
        OPT_TIMEOUT,
        OPT_LOG_LEVEL,
        OPT_HELP,
};

static const struct option long_options[] = {
    {"runtime-endpoint", required_argument, NULL, OPT_RUNTIME_ENDPOINT},
    {"serve", required_argument, NULL, OPT_SERVE},
    {"check", no_argument, NULL, OPT_CHECK},
    {"print", no_argument, NULL, OPT_PRINT},
    {"ignore", required_argument, NULL, OPT_IGNORE},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *out)
{
        fputs("usage: crisp replay FILE --runtime-endpoint PATH [--ignore METHOD[,METHOD...]]\n"
              "       crisp replay FILE --serve PATH\n"
              "       crisp replay FILE --check\n"
              "       crisp replay FILE --print\n"
              "\n"
              "Plays back a recording made with crisp --record (one JSON line per call).\n"
              "\n"
              "  --runtime-endpoint PATH  send each recorded call, in order, to PATH (a runtime,\n"
              "                           or crisp in front of one) and compare the answers;\n"
              "                           exits 1 if a status or a response differs\n"
              "  --ignore METHODS         methods whose responses may differ (ids, times):\n"
              "                           full paths or short names, comma-separated,\n"
              "                           repeatable; their status must still match\n"
              "  --timeout SECS           deadline of each replayed call (default 60)\n"
              "  --serve PATH             play the runtime on PATH: answer each call with the\n"
              "                           next recorded one of its method, until SIGTERM\n"
              "  --check                  send the records that carry an `expect` through an\n"
              "                           in-process crisp to an in-process --serve, and check\n"
              "                           every expectation; exits 1 on any failure\n"
              "  --print                  one readable line per call\n"
              "  --log-level LEVEL        error, warn (default), info or debug\n",
              out);
}

static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A bad command line: one line saying why, then the usage; exit code 2. */
static int bad(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        fputs("crisp replay: ", stderr);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputs("\n\n", stderr);
        usage(stderr);
        return 2;
}

static int set_mode(struct replay_args *a, enum mode m, const char *flag)
{
        if (a->mode != MODE_NONE)
                return bad("%s: choose one of --runtime-endpoint, --serve, --check and --print",
                           flag);
        a->mode = m;
        return 0;
}

static int add_ignore(struct replay_args *a, char *list)
{
        char *save = NULL;
        for (char *m = strtok_r(list, ",", &save); m; m = strtok_r(NULL, ",", &save)) {
                if (a->n_ignore == MAX_IGNORE)
                        return bad("--ignore: more than %s methods", "64");
                a->ignore[a->n_ignore++] = m;
        }
        return 0;
}

static int parse_args(struct replay_args *a, int argc, char **argv, char **ignore_copies)
{
        memset(a, 0, sizeof(*a));
        a->timeout_s = DEFAULT_TIMEOUT_S;
        a->log_level = CRISP_LOG_WARN;
        optind = 0;
        opterr = 0;
        int c, r;
        size_t n_copies = 0;
        _cleanup_error_ crisp_error *err = NULL;
        while ((c = getopt_long(argc, argv, ":", long_options, NULL)) != -1) {
                switch (c) {
                case OPT_RUNTIME_ENDPOINT:
                case OPT_SERVE:
                        r = set_mode(a, c == OPT_SERVE ? MODE_SERVE : MODE_SEND, argv[optind - 1]);
                        if (r != 0)
                                return r;
                        if (crisp_endpoint_to_path(optarg, a->endpoint, sizeof(a->endpoint), &err) <
                            0)
                                return bad("%s", err->msg);
                        break;
                case OPT_CHECK:
                case OPT_PRINT:
                        r = set_mode(a, c == OPT_CHECK ? MODE_CHECK : MODE_PRINT,
                                     c == OPT_CHECK ? "--check" : "--print");
                        if (r != 0)
                                return r;
                        break;
                case OPT_IGNORE:
                        /* strtok_r writes into its input: split a copy. */
                        if (n_copies == MAX_IGNORE)
                                return bad("--ignore: given more than %s times", "64");
                        ignore_copies[n_copies] = strdup(optarg);
                        if (ignore_copies[n_copies] == NULL)
                                return bad("%s", "out of memory");
                        r = add_ignore(a, ignore_copies[n_copies++]);
                        if (r != 0)
                                return r;
                        break;
                case OPT_TIMEOUT: {
                        char *end = NULL;
                        errno = 0;
                        long v = strtol(optarg, &end, 10);
                        if (errno || end == optarg || *end || v < 1 || v > 86400)
                                return bad("--timeout: '%s' is not a number of seconds from 1 to "
                                           "86400",
                                           optarg);
                        a->timeout_s = v;
                        break;
                }
                case OPT_LOG_LEVEL:
                        if (crisp_log_parse_level(optarg, &a->log_level) < 0)
                                return bad("--log-level: '%s' is not error, warn, info or debug",
                                           optarg);
                        break;
                case OPT_HELP:
                        a->help = true;
                        return 0;
                case ':':
                        return bad("%s needs a value", argv[optind - 1]);
                default:
                        return bad("unknown flag %s", argv[optind - 1]);
                }
        }
        if (optind >= argc)
                return bad("%s", "which recording? (crisp replay FILE ...)");
        a->file = argv[optind];
        if (optind + 1 < argc)
                return bad("unexpected argument '%s' (one recording at a time)", argv[optind + 1]);
        if (a->mode == MODE_NONE)
                return bad("%s", "choose one of --runtime-endpoint, --serve, --check and --print");
        if (a->n_ignore > 0 && a->mode != MODE_SEND)
                return bad("%s", "--ignore goes with --runtime-endpoint");
        return 0;
}

int crisp_replay_main(int argc, char **argv)
{
        struct replay_args a;
        char *ignore_copies[MAX_IGNORE] = {0};
        int code = parse_args(&a, argc, argv, ignore_copies);
        if (code == 0 && a.help) {
                usage(stdout);
        } else if (code == 0) {
                crisp_log_set_level(a.log_level);
                struct crisp_recording *rec = NULL;
                _cleanup_error_ crisp_error *err = NULL;
                /* Everything is read and checked before anything is sent. */
                if (crisp_recording_load(a.file, &rec, &err) < 0) {
                        fprintf(stderr, "crisp replay: %s\n", err->msg);
                        code = 1;
                } else {
                        long timeout_ms = a.timeout_s * 1000;
                        switch (a.mode) {
                        case MODE_SEND: {
                                struct replay_send_options o = {.endpoint = a.endpoint,
                                                                .ignore = a.ignore,
                                                                .n_ignore = a.n_ignore,
                                                                .timeout_ms = timeout_ms};
                                code = replay_send_main(rec, &o);
                                break;
                        }
                        case MODE_SERVE:
                                code = replay_serve_main(a.endpoint, rec->calls, rec->n);
                                break;
                        case MODE_CHECK:
                                code = replay_check_main(rec, timeout_ms);
                                break;
                        case MODE_PRINT:
                                code = replay_print_main(rec, stdout);
                                break;
                        case MODE_NONE:
                                break;
                        }
                        crisp_recording_free(rec);
                }
        }
        for (size_t i = 0; i < MAX_IGNORE; i++)
                free(ignore_copies[i]);
        return code;
}
