/* crisp's settings (struct crisp_options): what the config file (config.c)
 * and then the command line (options.c) fill in, their defaults and checks. */
#ifndef CRISP_SETTINGS_H
#define CRISP_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/error.h"
#include "base/log.h"
#include "rule/policy.h"
#include "rule/seccomp_default.h"

#define CRISP_DEFAULT_MAX_MESSAGE_SIZE  (16 * 1024 * 1024) /* the kubelet's CRI client limit */
#define CRISP_DEFAULT_SOCKET_MODE       0660
#define CRISP_DEFAULT_SHUTDOWN_GRACE_MS 10000
#define CRISP_DEFAULT_THREADS           1

/* --record (README.md, "Recording and replaying") */
#define CRISP_DEFAULT_RECORD_MAX_MESSAGES 64
#define CRISP_DEFAULT_RECORD_MAX_SIZE     (256ull * 1024 * 1024)
#define CRISP_DEFAULT_RECORD_QUEUE_SIZE   (64 * 1024 * 1024)

/* --kubeconfig (README.md, "Exact on every kubelet: the pod spec") */
#define CRISP_DEFAULT_STATIC_POD_PATH                                                              \
        "/etc/kubernetes/manifests" /* the kubelet's kubeadm default */
#define CRISP_DEFAULT_POD_SPEC_WAIT_MS 250

/* --complain-dir (README.md, "Complain mode") */
#define CRISP_DEFAULT_COMPLAIN_DIR "/var/lib/crisp/complain"

/* --complain-source: where complain mode reads the kernel's seccomp records. */
enum crisp_complain_source {
        CRISP_COMPLAIN_SOURCE_AUTO = 0, /* audit, else kmsg */
        CRISP_COMPLAIN_SOURCE_AUDIT,    /* the audit netlink socket's read-only group */
        CRISP_COMPLAIN_SOURCE_KMSG,     /* /dev/kmsg (printk, rate-limited) */
};
/* Parses "auto", "audit" or "kmsg"; returns 0 or -EINVAL. */
int crisp_complain_source_parse(const char *name, enum crisp_complain_source *out);
const char *crisp_complain_source_name(enum crisp_complain_source source);

struct crisp_options {
        char listen[108];           /* unix socket path crisp serves on (sun_path size) */
        char runtime_endpoint[108]; /* unix socket path of the real runtime */
        bool no_default;            /* pure pass-through: set when policy.mode is off */
        enum crisp_ambiguous_policy ambiguous; /* the same as policy.ambiguous */
        size_t max_message_size;
        mode_t socket_mode;
        long shutdown_grace_ms;
        int threads;
        enum crisp_log_level log_level;
        enum crisp_log_format log_format;

        /* --config FILE ("" = none): read before the flags, which override it. */
        char config_path[4096];
        /* mode, defaultProfile, exemptions (owned: crisp_options_release). */
        struct crisp_policy policy;
        /* metrics.listen: "" (off), a unix socket path or 127.0.0.1:PORT. */
        char metrics_listen[108];

        /* --record: append one JSON line per call to this file ("" = off). */
        char record_path[4096];
        unsigned record_max_messages;       /* stored per call and direction */
        unsigned long long record_max_size; /* bytes; recording stops there */
        size_t record_queue_size;           /* bytes of calls held for the writer */
        bool record_redact;

        /* The pod-spec source (issue 8): on when kubeconfig is set. */
        char kubeconfig[4096];
        char node_name[256];        /* "" until main fills in the host name */
        char static_pod_path[4096]; /* "" = no static pods */
        /* --pod-manifest-path or podSpec.staticPodPath was given: the static
         * pods settle the ambiguous case even without a kubeconfig (a
         * standalone kubelet). */
        bool static_pod_path_given;
        long pod_spec_wait_ms;

        /* issue 14: where complain mode writes its twin profiles. */
        char complain_dir[4096];
        enum crisp_complain_source complain_source;

        bool show_help;
        bool show_version;
};

/* Turns "unix:///run/x.sock" or "/run/x.sock" into "/run/x.sock", as the
 * kubelet accepts both. Rejects other schemes and relative paths. */
int crisp_endpoint_to_path(const char *endpoint, char *path, size_t size, crisp_error **err);

/* Checks a metrics address: an absolute unix socket path (or unix:///path),
 * or HOST:PORT with a numeric IPv4 host or [IPv6]. Returns 0 or -EINVAL. */
int crisp_metrics_address_check(const char *address, crisp_error **err);

/* Copies an absolute path into dst (for --kubeconfig and the like). */
int crisp_options_set_path(const char *what, const char *value, char *dst, size_t size,
                           crisp_error **err);

/* Checks a Kubernetes node name (a DNS subdomain, as the kubelet makes it
 * from the host name: lower case). */
int crisp_node_name_check(const char *what, const char *name, crisp_error **err);

/* Frees what the options own (the policy's lists). */
void crisp_options_release(struct crisp_options *opts);

/* The built-in defaults, before any file or flag. */
void crisp_options_defaults(struct crisp_options *opts);

#endif
