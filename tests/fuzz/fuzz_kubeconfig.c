/* libFuzzer target: the kubeconfig reader (src/podspec/kubeconfig.c), the file
 * crisp's pod-spec source reads before every request to the API server.
 *
 * Input: the file's bytes, written to a memfd and read by path
 * (/proc/self/fd/N), as crisp reads the file; relative paths in it then
 * resolve against /proc/self/fd, which is fine: nothing is opened.
 *
 * Invariants, besides ASan/LSan/UBSan:
 *  1. Refused: a negative errno with a message naming the file.
 *  2. Read: the server is https:// (any case) without a trailing '/'; credentials are a
 *     certificate with its key (each a file or data, not both) or a token
 *     (inline or a file); every file path is absolute; data is non-empty.
 *  3. Released without a leak, refused or not. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "podspec/kubeconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_TARGET "fuzz_kubeconfig"
#include "fuzz_check.h"

static int memfd = -1;
static char path[64];

static void check_path(const char *what, const char *p)
{
        CHECK(p == NULL || p[0] == '/', "%s is not absolute: %s", what, p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > 1 << 20)
                return 0;
        if (memfd < 0) {
                memfd = memfd_create("fuzz-kubeconfig", MFD_CLOEXEC);
                CHECK(memfd >= 0, "memfd_create");
                snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
        }
        CHECK(ftruncate(memfd, 0) == 0, "ftruncate");
        CHECK(size == 0 || pwrite(memfd, data, size, 0) == (ssize_t)size, "pwrite");

        struct crisp_kubeconfig kc;
        crisp_error *err = NULL;
        int r = crisp_kubeconfig_load(path, &kc, &err);
        if (r < 0) {
                CHECK(err != NULL && err->msg != NULL, "refused without a message");
                CHECK(r == -ENOMEM || strstr(err->msg, path) != NULL,
                      "the message does not name the file: %s", err->msg);
        } else {
                CHECK(r == 0 && err == NULL, "return %d", r);
                /* The scheme is case-insensitive (RFC 3986; Go's url.Parse and curl
                 * agree): "HTTPS://" is https. */
                CHECK(kc.server && strncasecmp(kc.server, "https://", 8) == 0, "server %s",
                      kc.server ? kc.server : "(null)");
                size_t n = strlen(kc.server);
                CHECK(kc.server[n - 1] != '/', "server ends in '/': %s", kc.server);
                CHECK(!(kc.ca_file && kc.ca_data), "CA as a file and as data");
                CHECK(!(kc.client_cert_file && kc.client_cert_data), "cert as a file and data");
                CHECK(!(kc.client_key_file && kc.client_key_data), "key as a file and data");
                bool cert = kc.client_cert_file || kc.client_cert_data;
                bool key = kc.client_key_file || kc.client_key_data;
                CHECK(cert == key, "a certificate without its key, or a key without one");
                CHECK(cert || kc.token || kc.token_file, "no credentials");
                CHECK(!kc.ca_data || kc.ca_data_len > 0, "empty CA data");
                check_path("certificate-authority", kc.ca_file);
                check_path("client-certificate", kc.client_cert_file);
                check_path("client-key", kc.client_key_file);
                check_path("tokenFile", kc.token_file);
                crisp_kubeconfig_release(&kc);
        }
        crisp_error_free(&err);
        return 0;
}
