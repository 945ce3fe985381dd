/* gRPC message framing walked in pieces of any size (src/wire/grpc_framing.h):
 * every split of a stream of messages gives the same boundaries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "wire/grpc_framing.h"

/* Three messages: 3 bytes, 0 bytes, 300 bytes. */
static size_t stream_of_three(uint8_t *out)
{
        size_t n = 0;
        const uint32_t lens[] = {3, 0, 300};
        for (size_t m = 0; m < 3; m++) {
                out[n++] = 0;
                out[n++] = (uint8_t)(lens[m] >> 24);
                out[n++] = (uint8_t)(lens[m] >> 16);
                out[n++] = (uint8_t)(lens[m] >> 8);
                out[n++] = (uint8_t)lens[m];
                for (uint32_t i = 0; i < lens[m]; i++)
                        out[n++] = (uint8_t)(m * 50 + i);
        }
        return n;
}

/* Walks `in` in pieces of `piece` bytes; records lengths and body bytes. */
static void walk(const uint8_t *in, size_t len, size_t piece, uint32_t *lens, size_t *nlens,
                 size_t *body, size_t *prefix_bytes)
{
        struct crisp_grpc_framer f;
        crisp_grpc_framer_init(&f);
        *nlens = *body = *prefix_bytes = 0;
        for (size_t off = 0; off < len; off += piece) {
                size_t left = len - off < piece ? len - off : piece;
                const uint8_t *p = in + off;
                while (left > 0) {
                        struct crisp_grpc_step s = crisp_grpc_framer_step(&f, p, left);
                        assert_true(s.used > 0 && s.used <= left);
                        if (s.piece == CRISP_GRPC_BODY)
                                *body += s.used;
                        else
                                *prefix_bytes += s.used;
                        if (s.piece == CRISP_GRPC_PREFIX_DONE)
                                lens[(*nlens)++] = f.length;
                        p += s.used;
                        left -= s.used;
                }
        }
        assert_true(crisp_grpc_framer_at_boundary(&f));
        assert_int_equal(f.messages, 3);
}

static void test_every_piece_size_gives_the_same_messages(void **state)
{
        (void)state;
        uint8_t in[400];
        size_t len = stream_of_three(in);
        for (size_t piece = 1; piece <= len; piece++) {
                uint32_t lens[4];
                size_t n, body, prefix;
                walk(in, len, piece, lens, &n, &body, &prefix);
                assert_int_equal(n, 3);
                assert_int_equal(lens[0], 3);
                assert_int_equal(lens[1], 0);
                assert_int_equal(lens[2], 300);
                assert_int_equal(body, 303);
                assert_int_equal(prefix, 15);
        }
}

static void test_a_zero_length_message_ends_with_its_prefix(void **state)
{
        (void)state;
        const uint8_t empty[5] = {0, 0, 0, 0, 0};
        struct crisp_grpc_framer f;
        crisp_grpc_framer_init(&f);
        struct crisp_grpc_step s = crisp_grpc_framer_step(&f, empty, 5);
        assert_int_equal(s.piece, CRISP_GRPC_PREFIX_DONE);
        assert_true(s.message_end);
        assert_int_equal(f.messages, 1);
}

static void test_the_length_and_flag_are_read(void **state)
{
        (void)state;
        const uint8_t big[5] = {1, 0x01, 0x00, 0x00, 0x01};
        struct crisp_grpc_framer f;
        crisp_grpc_framer_init(&f);
        struct crisp_grpc_step s = crisp_grpc_framer_step(&f, big, 5);
        assert_int_equal(s.piece, CRISP_GRPC_PREFIX_DONE);
        assert_false(s.message_end);
        assert_int_equal(f.length, 16777217);
        assert_int_equal(f.compressed, 1);
        assert_false(crisp_grpc_framer_at_boundary(&f));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_every_piece_size_gives_the_same_messages),
            cmocka_unit_test(test_a_zero_length_message_ends_with_its_prefix),
            cmocka_unit_test(test_the_length_and_flag_are_read),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
