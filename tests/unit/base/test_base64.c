/* base64 as recordings use it: RFC 4648 test vectors both ways, every byte
 * value round-trips, and each kind of bad input is refused with a message
 * saying what and where. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/base64.h"

static const struct {
        const char *plain, *encoded;
} vectors[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

static void rfc4648_vectors_encode(void **state)
{
        (void)state;
        for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
                size_t n = strlen(vectors[i].plain);
                char out[16] = {0};
                assert_int_equal(crisp_base64_encoded_len(n), strlen(vectors[i].encoded));
                crisp_base64_encode((const uint8_t *)vectors[i].plain, n, out);
                assert_string_equal(out, vectors[i].encoded);
        }
}

static void rfc4648_vectors_decode(void **state)
{
        (void)state;
        for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
                uint8_t *out = NULL;
                size_t len = 99;
                assert_int_equal(crisp_base64_decode(vectors[i].encoded, strlen(vectors[i].encoded),
                                                     &out, &len, NULL),
                                 0);
                assert_non_null(out);
                assert_int_equal(len, strlen(vectors[i].plain));
                assert_memory_equal(out, vectors[i].plain, len);
                free(out);
        }
}

static void every_byte_round_trips(void **state)
{
        (void)state;
        uint8_t data[256 * 3];
        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (uint8_t)(i * 7 + i / 256);
        /* Every length modulo 3, so each padding case is covered. */
        for (size_t n = sizeof(data) - 3; n <= sizeof(data); n++) {
                size_t elen = crisp_base64_encoded_len(n);
                char *text = malloc(elen);
                crisp_base64_encode(data, n, text);
                uint8_t *back = NULL;
                size_t len = 0;
                assert_int_equal(crisp_base64_decode(text, elen, &back, &len, NULL), 0);
                assert_int_equal(len, n);
                assert_memory_equal(back, data, n);
                free(back);
                free(text);
        }
}

static void bad_input_says_what_and_where(void **state)
{
        (void)state;
        struct {
                const char *text;
                const char *says;
        } cases[] = {
            {"Zm9", "length 3 is not a multiple of 4"},
            {"Zm9v!A==", "character '!' at offset 4"},
            {"Zm 9", "character ' ' at offset 2"},
            {"Zm9v\nA==", "byte 0x0a at offset 4"},
            {"Z===", "'=' at offset 1 before the end"},
            {"Zg==Zm8=", "'=' at offset 2 before the end"},
            {"====", "'=' at offset 0 before the end"},
            {"Zh==", "non-zero padding bits"},
            {"Zm9=", "non-zero padding bits"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                uint8_t *out = NULL;
                size_t len = 0;
                crisp_error *err = NULL;
                assert_int_equal(
                    crisp_base64_decode(cases[i].text, strlen(cases[i].text), &out, &len, &err),
                    -EINVAL);
                assert_null(out);
                assert_non_null(err);
                if (strstr(err->msg, cases[i].says) == NULL)
                        fail_msg("'%s': '%s' does not say '%s'", cases[i].text, err->msg,
                                 cases[i].says);
                crisp_error_free(&err);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(rfc4648_vectors_encode),
            cmocka_unit_test(rfc4648_vectors_decode),
            cmocka_unit_test(every_byte_round_trips),
            cmocka_unit_test(bad_input_says_what_and_where),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
