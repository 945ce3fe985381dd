/* crisp's settings: the built-in defaults and the checks of single values
 * that both the command line (options.c) and the config file (config.c) use. */
#include "config/settings.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int crisp_endpoint_to_path(const char *endpoint, char *path, size_t size, crisp_error **err)
{
        const char *p = endpoint;
        if (strncmp(p, "unix://", 7) == 0)
                p += 7;
        else if (strstr(p, "://") != NULL)
                return crisp_error_set(
                    err, EINVAL, "'%s': only unix sockets are supported (unix:///path or /path)",
                    endpoint);
        if (p[0] != '/')
                return crisp_error_set(err, EINVAL, "'%s': the socket path must be absolute",
                                       endpoint);
        if (strlen(p) >= size)
                return crisp_error_set(err, ENAMETOOLONG,
                                       "'%s': a unix socket path is at most %zu bytes", endpoint,
                                       size - 1);
        strcpy(path, p);
        return 0;
}

int crisp_metrics_address_check(const char *address, crisp_error **err)
{
        const char *p = address;
        if (strncmp(p, "unix://", 7) == 0)
                p += 7;
        if (p[0] == '/') {
                if (strlen(p) >= 108)
                        return crisp_error_set(
                            err, EINVAL, "'%s': a unix socket path is at most 107 bytes", address);
                return 0;
        }
        const char *colon = strrchr(p, ':');
        char *end = NULL;
        long port = colon ? strtol(colon + 1, &end, 10) : -1;
        if (colon == NULL || colon == p || end == colon + 1 || *end != '\0' || port < 1 ||
            port > 65535 || strlen(address) >= 108)
                return crisp_error_set(err, EINVAL,
                                       "'%s' is not an absolute unix socket path or HOST:PORT "
                                       "(e.g. 127.0.0.1:9760)",
                                       address);
        return 0;
}

int crisp_options_set_path(const char *what, const char *value, char *dst, size_t size,
                           crisp_error **err)
{
        if (value[0] != '/')
                return crisp_error_set(err, EINVAL, "%s: '%s' is not an absolute path", what,
                                       value);
        if (strlen(value) >= size)
                return crisp_error_set(err, ENAMETOOLONG, "%s: the path is too long", what);
        snprintf(dst, size, "%s", value);
        return 0;
}

int crisp_node_name_check(const char *what, const char *name, crisp_error **err)
{
        /* A node name is a DNS subdomain: lower-case letters, digits, '-' and '.'. */
        size_t n = strlen(name);
        if (n == 0 || n > 253)
                return crisp_error_set(err, EINVAL, "%s: '%s' is not a node name", what, name);
        for (size_t i = 0; i < n; i++) {
                char ch = name[i];
                if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                      ch == '.'))
                        return crisp_error_set(err, EINVAL,
                                               "%s: '%s' is not a node name (lower-case letters, "
                                               "digits, '-' and '.')",
                                               what, name);
        }
        return 0;
}

void crisp_options_release(struct crisp_options *opts)
{
        crisp_policy_release(&opts->policy);
}

void crisp_options_defaults(struct crisp_options *opts)
{
        memset(opts, 0, sizeof(*opts));
        opts->ambiguous = CRISP_AMBIGUOUS_RUNTIME_DEFAULT;
        opts->max_message_size = CRISP_DEFAULT_MAX_MESSAGE_SIZE;
        opts->socket_mode = CRISP_DEFAULT_SOCKET_MODE;
        opts->shutdown_grace_ms = CRISP_DEFAULT_SHUTDOWN_GRACE_MS;
        opts->threads = CRISP_DEFAULT_THREADS;
        opts->log_level = CRISP_LOG_INFO;
        opts->record_max_messages = CRISP_DEFAULT_RECORD_MAX_MESSAGES;
        opts->record_max_size = CRISP_DEFAULT_RECORD_MAX_SIZE;
        opts->record_queue_size = CRISP_DEFAULT_RECORD_QUEUE_SIZE;
        snprintf(opts->static_pod_path, sizeof(opts->static_pod_path), "%s",
                 CRISP_DEFAULT_STATIC_POD_PATH);
        opts->pod_spec_wait_ms = CRISP_DEFAULT_POD_SPEC_WAIT_MS;
        snprintf(opts->complain_dir, sizeof(opts->complain_dir), "%s", CRISP_DEFAULT_COMPLAIN_DIR);
}

static const char *const complain_sources[] = {
    [CRISP_COMPLAIN_SOURCE_AUTO] = "auto",
    [CRISP_COMPLAIN_SOURCE_AUDIT] = "audit",
    [CRISP_COMPLAIN_SOURCE_KMSG] = "kmsg",
};

int crisp_complain_source_parse(const char *name, enum crisp_complain_source *out)
{
        for (size_t i = 0; i < sizeof(complain_sources) / sizeof(complain_sources[0]); i++)
                if (strcmp(name, complain_sources[i]) == 0) {
                        *out = (enum crisp_complain_source)i;
                        return 0;
                }
        return -EINVAL;
}

const char *crisp_complain_source_name(enum crisp_complain_source source)
{
        return (unsigned)source < sizeof(complain_sources) / sizeof(complain_sources[0])
                   ? complain_sources[source]
                   : "?";
}
