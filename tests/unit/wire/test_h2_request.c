/* The HTTP/2 request rules crisp checks on the kubelet's side
 * (src/wire/h2_request.h): what a gRPC client sends passes, including a
 * socket path as :authority; each rule's breach is refused, naming it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "wire/h2_request.h"

#define F(n, v)                                                                                    \
        {                                                                                          \
                (const uint8_t *)(n), sizeof(n) - 1, (const uint8_t *)(v), sizeof(v) - 1           \
        }

static int check(const struct crisp_h2_field *f, size_t n, const char **why, int64_t *cl)
{
        int64_t dummy;
        return crisp_h2_check_request(f, n, cl ? cl : &dummy, why);
}

static void test_a_grpc_request_passes(void **state)
{
        (void)state;
        const struct crisp_h2_field f[] = {
            F(":method", "POST"),
            F(":scheme", "http"),
            F(":path", "/runtime.v1.RuntimeService/Version"),
            F(":authority", "/run/containerd/containerd.sock"),
            F("content-type", "application/grpc"),
            F("user-agent", "grpc-go/1.51.0"),
            F("te", "trailers"),
            F("grpc-timeout", "1999m"),
        };
        const char *why = NULL;
        int64_t cl = 7;
        assert_int_equal(check(f, 8, &why, &cl), 0);
        assert_int_equal(cl, -1);
}

static void test_content_length_is_read(void **state)
{
        (void)state;
        const struct crisp_h2_field f[] = {F(":method", "POST"), F(":scheme", "http"),
                                           F(":path", "/"), F("content-length", "12"),
                                           F("content-length", "12")};
        const char *why = NULL;
        int64_t cl = -1;
        assert_int_equal(check(f, 5, &why, &cl), 0);
        assert_int_equal(cl, 12);
}

struct bad {
        struct crisp_h2_field f[5];
        size_t n;
        const char *rule;
};

static void test_each_rule_is_enforced(void **state)
{
        (void)state;
        const struct bad cases[] = {
            {{F(":method", "POST"), F(":scheme", "http"), F(":path", "/"), F("X-Up", "1")},
             4,
             "lower-case token"},
            {{F(":method", "POST"), F(":scheme", "http"), F(":path", "/"), F(":foo", "1")},
             4,
             "pseudo-header field a request has not"},
            {{F(":method", "POST"), F(":scheme", "http"), F(":path", "/"), F(":status", "200")},
             4,
             "pseudo-header field a request has not"},
            {{F(":method", "POST"), F(":scheme", "http"), F("a", "1"), F(":path", "/")},
             4,
             "after a regular one"},
            {{F(":method", "POST"), F(":scheme", "http"), F(":path", "/"), F("connection", "x")},
             4,
             "connection-specific"},
            {{F(":method", "POST"), F(":scheme", "http"), F(":path", "/"), F("te", "gzip")},
             4,
             "connection-specific"},
            {{F(":method", "POST"), F(":scheme", "http"), F(":path", "")}, 3, "empty :path"},
            {{F(":scheme", "http"), F(":path", "/")}, 2, "without :method"},
            {{F(":method", "POST"), F(":path", "/")}, 2, "without :method, :scheme"},
            {{F(":method", "POST"), F(":scheme", "http")}, 2, "or :path"},
            {{F(":method", "POST"), F(":method", "POST"), F(":scheme", "http"), F(":path", "/")},
             4,
             "twice"},
            {{F(":method", "POST"), F(":scheme", "http"), F(":scheme", "http"), F(":path", "/")},
             4,
             "twice"},
            {{F(":method", "POST"), F(":scheme", "http"), F(":path", "/"), F(":path", "/")},
             4,
             "twice"},
            {{F(":method", "PO ST"), F(":scheme", "http"), F(":path", "/")}, 3, "not a token"},
            {{F(":method", "POST"), F(":scheme", "http"), F(":path", "/"), F("a", " x")},
             4,
             "surrounding white space"},
            {{F(":method", "POST"), F(":scheme", "http"), F(":path", "/"), F("content-length", "1"),
              F("content-length", "2")},
             5,
             "not one number"},
            {{F(":method", "POST"), F(":scheme", "http"), F(":path", "/"),
              F("content-length", "x")},
             4,
             "not one number"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const char *why = NULL;
                assert_int_equal(check(cases[i].f, cases[i].n, &why, NULL), -EPROTO);
                assert_non_null(why);
                if (strstr(why, cases[i].rule) == NULL)
                        fail_msg("case %zu: %s, not %s", i, why, cases[i].rule);
        }
}

static void test_trailers(void **state)
{
        (void)state;
        const struct crisp_h2_field ok[] = {F("grpc-status", "0")};
        const struct crisp_h2_field pseudo[] = {F(":path", "/")};
        const char *why = NULL;
        assert_int_equal(crisp_h2_check_trailers(ok, 1, &why), 0);
        assert_int_equal(crisp_h2_check_trailers(pseudo, 1, &why), -EPROTO);
        assert_non_null(strstr(why, "pseudo-header field in trailers"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_a_grpc_request_passes),
            cmocka_unit_test(test_content_length_is_read),
            cmocka_unit_test(test_each_rule_is_enforced),
            cmocka_unit_test(test_trailers),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
