/* Reads a kubeconfig file the way kubectl does, for the one thing crisp
 * needs from it: how to reach the API server (issue 8). The current context
 * picks a cluster (server, CA) and a user (client certificate and key, or a
 * bearer token). Paths in the file are relative to the file's folder, as in
 * kubectl. Embedded *-data fields are base64 and are decoded here.
 *
 * Refused with a clear error: a missing current context / cluster / user,
 * a server that is not https://, insecure-skip-tls-verify: true (crisp
 * always verifies TLS), exec and auth-provider plugins, basic auth. */
#ifndef CRISP_KUBECONFIG_H
#define CRISP_KUBECONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

struct crisp_kubeconfig {
        char *server;          /* "https://host:port[/path]", no trailing '/' */
        char *tls_server_name; /* tls-server-name, or NULL */

        /* CA: a file, or PEM bytes, or neither (then the system's CAs) */
        char *ca_file;
        uint8_t *ca_data;
        size_t ca_data_len;

        /* client certificate and key: files or PEM bytes (each may be either) */
        char *client_cert_file;
        uint8_t *client_cert_data;
        size_t client_cert_data_len;
        char *client_key_file;
        uint8_t *client_key_data;
        size_t client_key_data_len;

        /* bearer token: inline, or a file read again before each request */
        char *token;
        char *token_file;
};

/* Loads `path`. On success returns 0 and fills *out (release it with
 * crisp_kubeconfig_release); else -errno and *err says what and where
 * ("PATH: users[kubelet]: exec plugins are not supported"). */
int crisp_kubeconfig_load(const char *path, struct crisp_kubeconfig *out, crisp_error **err);

/* Frees what `kc` owns and zeroes it (safe on a zeroed struct). */
void crisp_kubeconfig_release(struct crisp_kubeconfig *kc);

#endif
