/* crisp's command line: --config first, then every flag over it, and the
 * usage text (options.h). */
#include "config/options.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

enum {
        OPT_LISTEN = 256,
        OPT_RUNTIME_ENDPOINT,
        OPT_NO_DEFAULT,
        OPT_AMBIGUOUS,
        OPT_MAX_MESSAGE_SIZE,
        OPT_SOCKET_MODE,
        OPT_SHUTDOWN_GRACE,
        OPT_THREADS,
        OPT_LOG_LEVEL,
        OPT_RECORD,
        OPT_RECORD_MAX_MESSAGES,
        OPT_RECORD_MAX_SIZE,
        OPT_RECORD_QUEUE_SIZE,
        OPT_RECORD_REDACT,
        OPT_HELP,
        OPT_VERSION,
        OPT_CONFIG,
        OPT_MODE,
        OPT_LOG_FORMAT,
        OPT_METRICS_LISTEN,
        OPT_KUBECONFIG,
        OPT_NODE_NAME,
        OPT_POD_MANIFEST_PATH,
        OPT_POD_SPEC_WAIT,
        OPT_COMPLAIN_DIR,
        OPT_COMPLAIN_SOURCE,
};

static const struct option long_options[] = {
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"runtime-endpoint", required_argument, NULL, OPT_RUNTIME_ENDPOINT},
    {"no-default", no_argument, NULL, OPT_NO_DEFAULT},
    {"ambiguous-unconfined", required_argument, NULL, OPT_AMBIGUOUS},
    {"max-message-size", required_argument, NULL, OPT_MAX_MESSAGE_SIZE},
    {"socket-mode", required_argument, NULL, OPT_SOCKET_MODE},
    {"shutdown-grace-period", required_argument, NULL, OPT_SHUTDOWN_GRACE},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"record", required_argument, NULL, OPT_RECORD},
    {"record-max-messages", required_argument, NULL, OPT_RECORD_MAX_MESSAGES},
    {"record-max-size", required_argument, NULL, OPT_RECORD_MAX_SIZE},
    {"record-queue-size", required_argument, NULL, OPT_RECORD_QUEUE_SIZE},
    {"record-redact", no_argument, NULL, OPT_RECORD_REDACT},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"mode", required_argument, NULL, OPT_MODE},
    {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
    {"metrics-listen", required_argument, NULL, OPT_METRICS_LISTEN},
    {"kubeconfig", required_argument, NULL, OPT_KUBECONFIG},
    {"node-name", required_argument, NULL, OPT_NODE_NAME},
    {"pod-manifest-path", required_argument, NULL, OPT_POD_MANIFEST_PATH},
    {"pod-spec-wait-ms", required_argument, NULL, OPT_POD_SPEC_WAIT},
    {"complain-dir", required_argument, NULL, OPT_COMPLAIN_DIR},
    {"complain-source", required_argument, NULL, OPT_COMPLAIN_SOURCE},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

void crisp_options_usage(FILE *out)
{
        fputs("usage: crisp --listen PATH --runtime-endpoint PATH [options]\n"
              "       crisp replay FILE (--runtime-endpoint PATH | --serve PATH | --check |\n"
              "                          --print) [options]   (crisp replay --help)\n"
              "       crisp check-profile FILE   (validate a seccomp profile)\n"
              "\n"
              "A CRI proxy: serves the CRI on --listen, relays every call to the runtime, and\n"
              "defaults seccomp profiles left empty to RuntimeDefault, as the kubelet's\n"
              "SeccompDefault would.\n"
              "\n"
              "  --config FILE                 read settings from this YAML file first; the\n"
              "                                flags override it (deploy/crisp.yaml; SIGHUP\n"
              "                                re-reads it)\n"
              "  --listen PATH                 unix socket to serve on (unix:///path or /path)\n"
              "  --runtime-endpoint PATH       the runtime's socket (unix:///path or /path)\n"
              "  --ambiguous-unconfined POLICY runtime-default (default) or keep: what to do with\n"
              "                                an empty path and Unconfined field, which kubelet\n"
              "                                >= 1.28 sends for both nothing set and explicit\n"
              "                                Unconfined\n"
              "  --mode MODE                   enforce (default): rewrite; audit: decide and log\n"
              "                                but forward unchanged; complain: like enforce, but\n"
              "                                under a logging twin of the default profile that\n"
              "                                blocks nothing (crisp report); off: pass-through\n"
              "  --no-default                  the same as --mode off\n"
              "  --max-message-size BYTES      largest message either way (default 16777216)\n"
              "  --socket-mode OCTAL           mode of the listening socket (default 0660)\n"
              "  --shutdown-grace-period SECS  on SIGTERM, time in-flight calls get to finish\n"
              "                                before they are cancelled (default 10)\n"
              "  --threads N                   ignored (kept for old command lines): the relay\n"
              "                                runs on one thread\n"
              "  --log-level LEVEL             error, warn, info (default) or debug\n"
              "  --log-format FORMAT           text (default) or json (one object per line)\n"
              "  --metrics-listen ADDRESS      serve /metrics, /healthz, /readyz on a unix\n"
              "                                socket path or 127.0.0.1:PORT (default off)\n"
              "  --record FILE                 append one JSON line per call to FILE (mode 0600;\n"
              "                                SIGHUP reopens it)\n"
              "  --record-max-messages N       messages stored per call and direction; the\n"
              "                                rest are counted as truncated (default 64)\n"
              "  --record-max-size BYTES       stop recording when FILE would grow past this\n"
              "                                (default 268435456)\n"
              "  --record-queue-size BYTES     memory for calls not yet written; beyond it\n"
              "                                calls are not recorded (default 67108864)\n"
              "  --record-redact               replace environment values of CreateContainer\n"
              "                                and ExecSync output with REDACTED\n"
              "  --kubeconfig FILE             read pod specs from the API server with this\n"
              "                                kubeconfig, to settle the ambiguous case exactly\n"
              "                                (default off)\n"
              "  --node-name NAME              this node's name (default: the host name)\n"
              "  --pod-manifest-path DIR       static pod manifests (default\n"
              "                                /etc/kubernetes/manifests; \"\" for none)\n"
              "  --pod-spec-wait-ms MS         how long a pod missing from the in-sync cache is\n"
              "                                waited for (default 250)\n"
              "  --complain-dir DIR            where --mode complain writes its twin profiles\n"
              "                                (default /var/lib/crisp/complain; created at\n"
              "                                start, 0755)\n"
              "  --complain-source SOURCE      where complain mode reads seccomp records: audit\n"
              "                                (the audit netlink socket), kmsg (/dev/kmsg) or\n"
              "                                auto (default: audit, else kmsg)\n"
              "  --help                        print this help\n"
              "  --version                     print the version\n",
              out);
}

static int parse_long(const char *flag, const char *arg, int base, long min, long max, long *out,
                      crisp_error **err)
{
        char *end = NULL;
        errno = 0;
        long v = strtol(arg, &end, base);
        if (errno != 0 || end == arg || *end != '\0' || v < min || v > max)
                return crisp_error_set(err, EINVAL, "--%s: '%s' is not a number from %ld to %ld",
                                       flag, arg, min, max);
        *out = v;
        return 0;
}

/* --config is read before every other flag, wherever it is on the line, so
 * that the flags override the file. */
static const char *find_config_flag(int argc, char **argv)
{
        const char *path = NULL;
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--") == 0)
                        break;
                if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
                        path = argv[++i];
                else if (strncmp(argv[i], "--config=", 9) == 0)
                        path = argv[i] + 9;
        }
        return path;
}

int crisp_options_parse(struct crisp_options *opts, int argc, char **argv, crisp_error **err)
{
        crisp_options_defaults(opts);
        int r;
        const char *config = find_config_flag(argc, argv);
        if (config != NULL) {
                if (strlen(config) >= sizeof(opts->config_path))
                        return crisp_error_set(err, ENAMETOOLONG, "--config: the path is too long");
                strcpy(opts->config_path, config);
                r = crisp_config_load(config, opts, err);
                if (r < 0)
                        return r;
        }
        const char *record_flag = NULL; /* a --record-* flag seen, for the check below */

        optind = 0; /* reset getopt: parse may run more than once (tests) */
        opterr = 0; /* we report errors ourselves, in one line */
        int c;
        long v = 0;
        while ((c = getopt_long(argc, argv, ":", long_options, NULL)) != -1) {
                switch (c) {
                case OPT_LISTEN:
                        r = crisp_endpoint_to_path(optarg, opts->listen, sizeof(opts->listen), err);
                        if (r < 0)
                                return r;
                        break;
                case OPT_RUNTIME_ENDPOINT:
                        r = crisp_endpoint_to_path(optarg, opts->runtime_endpoint,
                                                   sizeof(opts->runtime_endpoint), err);
                        if (r < 0)
                                return r;
                        break;
                case OPT_NO_DEFAULT:
                        opts->policy.mode = CRISP_MODE_OFF;
                        break;
                case OPT_MODE:
                        if (crisp_mode_parse(optarg, &opts->policy.mode) < 0)
                                return crisp_error_set(
                                    err, EINVAL,
                                    "--mode: '%s' is not enforce, audit, complain "
                                    "or off",
                                    optarg);
                        break;
                case OPT_CONFIG:
                        break; /* read first, above */
                case OPT_LOG_FORMAT:
                        if (crisp_log_parse_format(optarg, &opts->log_format) < 0)
                                return crisp_error_set(
                                    err, EINVAL, "--log-format: '%s' is not text or json", optarg);
                        break;
                case OPT_METRICS_LISTEN:
                        r = crisp_metrics_address_check(optarg, err);
                        if (r < 0)
                                return r;
                        snprintf(opts->metrics_listen, sizeof(opts->metrics_listen), "%s", optarg);
                        break;
                case OPT_AMBIGUOUS:
                        if (crisp_ambiguous_policy_parse(optarg, &opts->policy.ambiguous) < 0)
                                return crisp_error_set(err, EINVAL,
                                                       "--ambiguous-unconfined: '%s' is not "
                                                       "runtime-default or keep",
                                                       optarg);
                        break;
                case OPT_MAX_MESSAGE_SIZE:
                        r = parse_long("max-message-size", optarg, 10, 1024, INT_MAX, &v, err);
                        if (r < 0)
                                return r;
                        opts->max_message_size = (size_t)v;
                        break;
                case OPT_SOCKET_MODE:
                        r = parse_long("socket-mode", optarg, 8, 0, 0777, &v, err);
                        if (r < 0)
                                return r;
                        opts->socket_mode = (mode_t)v;
                        break;
                case OPT_SHUTDOWN_GRACE:
                        r = parse_long("shutdown-grace-period", optarg, 10, 0, 3600, &v, err);
                        if (r < 0)
                                return r;
                        opts->shutdown_grace_ms = v * 1000;
                        break;
                case OPT_THREADS:
                        r = parse_long("threads", optarg, 10, 1, 64, &v, err);
                        if (r < 0)
                                return r;
                        opts->threads = (int)v;
                        break;
                case OPT_LOG_LEVEL:
                        if (crisp_log_parse_level(optarg, &opts->log_level) < 0)
                                return crisp_error_set(err, EINVAL,
                                                       "--log-level: '%s' is not error, warn, info "
                                                       "or debug",
                                                       optarg);
                        break;
                case OPT_RECORD:
                        if (optarg[0] == '\0')
                                return crisp_error_set(err, EINVAL,
                                                       "--record: the file name is "
                                                       "empty");
                        if (strlen(optarg) >= sizeof(opts->record_path))
                                return crisp_error_set(err, ENAMETOOLONG,
                                                       "--record: the file name is longer than "
                                                       "%zu bytes",
                                                       sizeof(opts->record_path) - 1);
                        strcpy(opts->record_path, optarg);
                        break;
                case OPT_RECORD_MAX_MESSAGES:
                        r = parse_long("record-max-messages", optarg, 10, 1, 1000000, &v, err);
                        if (r < 0)
                                return r;
                        opts->record_max_messages = (unsigned)v;
                        record_flag = "--record-max-messages";
                        break;
                case OPT_RECORD_MAX_SIZE:
                        r = parse_long("record-max-size", optarg, 10, 4096, LONG_MAX, &v, err);
                        if (r < 0)
                                return r;
                        opts->record_max_size = (unsigned long long)v;
                        record_flag = "--record-max-size";
                        break;
                case OPT_RECORD_QUEUE_SIZE:
                        r = parse_long("record-queue-size", optarg, 10, 65536, LONG_MAX, &v, err);
                        if (r < 0)
                                return r;
                        opts->record_queue_size = (size_t)v;
                        record_flag = "--record-queue-size";
                        break;
                case OPT_RECORD_REDACT:
                        opts->record_redact = true;
                        record_flag = "--record-redact";
                        break;
                case OPT_KUBECONFIG:
                        r = crisp_options_set_path("--kubeconfig", optarg, opts->kubeconfig,
                                                   sizeof(opts->kubeconfig), err);
                        if (r < 0)
                                return r;
                        break;
                case OPT_NODE_NAME:
                        r = crisp_node_name_check("--node-name", optarg, err);
                        if (r < 0)
                                return r;
                        snprintf(opts->node_name, sizeof(opts->node_name), "%s", optarg);
                        break;
                case OPT_POD_MANIFEST_PATH:
                        opts->static_pod_path_given = optarg[0] != '\0';
                        if (optarg[0] == '\0') {
                                opts->static_pod_path[0] = '\0';
                                break;
                        }
                        r = crisp_options_set_path("--pod-manifest-path", optarg,
                                                   opts->static_pod_path,
                                                   sizeof(opts->static_pod_path), err);
                        if (r < 0)
                                return r;
                        break;
                case OPT_POD_SPEC_WAIT:
                        r = parse_long("pod-spec-wait-ms", optarg, 10, 0, 10000, &v, err);
                        if (r < 0)
                                return r;
                        opts->pod_spec_wait_ms = v;
                        break;
                case OPT_COMPLAIN_SOURCE:
                        if (crisp_complain_source_parse(optarg, &opts->complain_source) < 0)
                                return crisp_error_set(err, EINVAL,
                                                       "--complain-source: '%s' is not auto, "
                                                       "audit or kmsg",
                                                       optarg);
                        break;
                case OPT_COMPLAIN_DIR:
                        r = crisp_options_set_path("--complain-dir", optarg, opts->complain_dir,
                                                   sizeof(opts->complain_dir), err);
                        if (r < 0)
                                return r;
                        break;
                case OPT_HELP:
                        opts->show_help = true;
                        break;
                case OPT_VERSION:
                        opts->show_version = true;
                        break;
                case ':':
                        return crisp_error_set(err, EINVAL, "%s needs a value", argv[optind - 1]);
                default:
                        if (optopt != 0 && optopt < 256)
                                return crisp_error_set(err, EINVAL, "unknown flag -%c", optopt);
                        return crisp_error_set(err, EINVAL, "unknown flag %s", argv[optind - 1]);
                }
        }
        /* The policy is the one truth; these two mirror it for older callers. */
        opts->ambiguous = opts->policy.ambiguous;
        opts->no_default = opts->policy.mode == CRISP_MODE_OFF;
        if (opts->show_help || opts->show_version)
                return CRISP_OPTIONS_EXIT_OK;
        if (optind < argc)
                return crisp_error_set(err, EINVAL, "unexpected argument '%s'", argv[optind]);
        if (opts->listen[0] == '\0')
                return crisp_error_set(err, EINVAL, "--listen is required");
        if (opts->runtime_endpoint[0] == '\0')
                return crisp_error_set(err, EINVAL, "--runtime-endpoint is required");
        if (record_flag != NULL && opts->record_path[0] == '\0')
                return crisp_error_set(err, EINVAL, "%s needs --record FILE", record_flag);
        if (strcmp(opts->listen, opts->runtime_endpoint) == 0)
                return crisp_error_set(err, EINVAL,
                                       "--listen and --runtime-endpoint are the same socket (%s)",
                                       opts->listen);
        return CRISP_OPTIONS_RUN;
}
