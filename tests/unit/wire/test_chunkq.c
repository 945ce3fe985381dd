/* Chunk queues over reference-counted blocks (src/wire/chunkq.h): bytes move
 * between queues without copies, and every block is freed when its last
 * chunk goes (under ASan and LeakSanitizer, a slip is a failure). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "wire/block.h"
#include "wire/chunkq.h"

static void test_push_move_drop(void **state)
{
        (void)state;
        struct crisp_block *a = crisp_block_copy((const uint8_t *)"0123456789", 10);
        struct crisp_block *b = crisp_block_copy((const uint8_t *)"abcdef", 6);
        struct crisp_chunkq q, out;
        crisp_chunkq_init(&q);
        crisp_chunkq_init(&out);
        assert_int_equal(crisp_chunkq_push(&q, a, a->data, 4), 0);
        assert_int_equal(crisp_chunkq_push(&q, a, a->data + 4, 6), 0); /* extends the chunk */
        assert_int_equal(q.nchunks, 1);
        assert_int_equal(crisp_chunkq_push(&q, b, b->data, 6), 0);
        assert_int_equal(q.bytes, 16);
        assert_int_equal(q.nchunks, 2);
        crisp_block_unref(a);
        crisp_block_unref(b);

        /* Move across the chunk boundary: the first chunk is split. */
        assert_int_equal(crisp_chunkq_move(&q, 12, &out), 0);
        assert_int_equal(out.bytes, 12);
        assert_int_equal(q.bytes, 4);
        uint8_t got[16];
        crisp_chunkq_peek(&out, got, 12);
        assert_memory_equal(got, "0123456789ab", 12);
        crisp_chunkq_peek(&q, got, 4);
        assert_memory_equal(got, "cdef", 4);

        struct iovec iov[4];
        assert_int_equal(crisp_chunkq_iov(&out, iov, 4), 2);
        assert_int_equal(iov[0].iov_len + iov[1].iov_len, 12);

        crisp_chunkq_drop(&out, 11);
        crisp_chunkq_peek(&out, got, 1);
        assert_int_equal(got[0], 'b');
        crisp_chunkq_clear(&out);
        crisp_chunkq_clear(&q);
        assert_int_equal(q.bytes + out.bytes, 0);
        crisp_chunkq_trim();
        crisp_block_trim();
}

static void test_slabs_are_reused(void **state)
{
        (void)state;
        struct crisp_block *s = crisp_block_new(CRISP_BLOCK_SLAB);
        assert_non_null(s);
        void *first = s;
        crisp_block_unref(s);
        s = crisp_block_new(CRISP_BLOCK_SLAB);
        assert_ptr_equal(s, first);
        assert_int_equal(s->refs, 1);
        crisp_block_unref(s);
        crisp_block_trim();
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_push_move_drop),
            cmocka_unit_test(test_slabs_are_reused),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
