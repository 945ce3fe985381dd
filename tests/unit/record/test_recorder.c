/* The recorder's file handling: mode 0600, every submitted record written by
 * close, the size limit stops recording (once, and a reopen starts it
 * again), a reopen switches files exactly between records, and the memory
 * budget refuses rather than grows. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "record/recorder.h"
#include "record/recording.h"

struct fixture {
        char dir[64];
        char path[128];
};

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        snprintf(f->dir, sizeof(f->dir), "/tmp/crisp-test-recorder-XXXXXX");
        if (mkdtemp(f->dir) == NULL)
                return -1;
        snprintf(f->path, sizeof(f->path), "%s/rec.jsonl", f->dir);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        char moved[160];
        snprintf(moved, sizeof(moved), "%s.1", f->path);
        unlink(f->path);
        unlink(moved);
        rmdir(f->dir);
        free(f);
        return 0;
}

static struct crisp_recorder *open_recorder(const char *path, uint64_t max_size)
{
        struct crisp_recorder_options o = {
            .path = path, .max_size = max_size, .queue_bytes = 1 << 20, .redact = false};
        struct crisp_recorder *r = NULL;
        crisp_error *err = NULL;
        if (crisp_recorder_open(&o, &r, &err) < 0)
                fail_msg("%s", err->msg);
        return r;
}

/* A record of `method` with one request of `size` bytes, its budget reserved. */
static void submit(struct crisp_recorder *r, const char *method, size_t size)
{
        struct crisp_call_record *rec = calloc(1, sizeof(*rec));
        rec->method = strdup(method);
        rec->duration_us = -1;
        uint8_t *data = calloc(1, size ? size : 1);
        assert_int_equal(crisp_msg_list_append_owned(&rec->requests, data, size), 0);
        rec->held_bytes = size + 100;
        assert_true(crisp_recorder_reserve(r, rec->held_bytes));
        crisp_recorder_submit(r, rec);
}

static size_t count_records(const char *path, const char *method)
{
        struct crisp_recording *rec = NULL;
        crisp_error *err = NULL;
        if (crisp_recording_load(path, &rec, &err) < 0)
                fail_msg("%s", err->msg);
        size_t n = 0;
        for (size_t i = 0; i < rec->n; i++)
                n += method == NULL || strcmp(rec->calls[i]->method, method) == 0;
        crisp_recording_free(rec);
        return n;
}

static void file_is_0600_and_every_record_is_written_by_close(void **state)
{
        struct fixture *f = *state;
        mode_t old = umask(0);
        struct crisp_recorder *r = open_recorder(f->path, 1 << 30);
        umask(old);
        struct stat st;
        assert_int_equal(stat(f->path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        for (int i = 0; i < 500; i++)
                submit(r, "/a.B/C", (size_t)i);
        crisp_recorder_close(r);
        assert_int_equal(count_records(f->path, NULL), 500);

        /* Appends: a second recorder adds to what is there. */
        r = open_recorder(f->path, 1 << 30);
        submit(r, "/a.B/D", 1);
        crisp_recorder_close(r);
        assert_int_equal(count_records(f->path, NULL), 501);
        assert_int_equal(count_records(f->path, "/a.B/D"), 1);
}

static void the_size_limit_stops_recording(void **state)
{
        struct fixture *f = *state;
        struct crisp_recorder *r = open_recorder(f->path, 4096);
        for (int i = 0; i < 100; i++)
                submit(r, "/a.B/C", 100);
        /* The writer stops at the first record that does not fit. */
        crisp_recorder_close(r);
        struct stat st;
        assert_int_equal(stat(f->path, &st), 0);
        assert_true(st.st_size <= 4096);
        size_t written = count_records(f->path, NULL);
        assert_true(written > 10 && written < 100);
}

static void a_reopen_switches_files_between_records(void **state)
{
        struct fixture *f = *state;
        char moved[160];
        snprintf(moved, sizeof(moved), "%s.1", f->path);
        struct crisp_recorder *r = open_recorder(f->path, 4096);
        for (int i = 0; i < 100; i++)
                submit(r, "/a.B/Before", 100);
        /* As logrotate does: move the file, then signal. */
        assert_int_equal(rename(f->path, moved), 0);
        crisp_recorder_reopen(r);
        submit(r, "/a.B/After", 1);
        crisp_recorder_close(r);
        assert_int_equal(count_records(moved, "/a.B/After"), 0);
        assert_true(count_records(moved, "/a.B/Before") > 0);
        /* The new file starts empty, so recording (stopped by the limit) resumed. */
        assert_int_equal(count_records(f->path, NULL), 1);
        assert_int_equal(count_records(f->path, "/a.B/After"), 1);
}

static void the_budget_refuses_instead_of_growing(void **state)
{
        struct fixture *f = *state;
        struct crisp_recorder_options o = {
            .path = f->path, .max_size = 1 << 20, .queue_bytes = 1000, .redact = false};
        struct crisp_recorder *r = NULL;
        assert_int_equal(crisp_recorder_open(&o, &r, NULL), 0);
        assert_true(crisp_recorder_reserve(r, 600));
        assert_false(crisp_recorder_reserve(r, 600));
        assert_false(crisp_recorder_reserve(r, (size_t)-1));
        assert_true(crisp_recorder_reserve(r, 400));
        crisp_recorder_release(r, 1000);
        assert_true(crisp_recorder_reserve(r, 1000));
        crisp_recorder_release(r, 1000);
        crisp_recorder_count_drop(r);
        struct crisp_recorder_stats st;
        crisp_recorder_get_stats(r, &st);
        assert_int_equal(st.dropped, 1);
        assert_true(crisp_recorder_accepting(r));
        crisp_recorder_close(r);
}

static void an_unwritable_path_is_an_error(void **state)
{
        (void)state;
        struct crisp_recorder_options o = {
            .path = "/nonexistent/dir/rec.jsonl", .max_size = 1 << 20, .queue_bytes = 1 << 20};
        struct crisp_recorder *r = NULL;
        crisp_error *err = NULL;
        assert_int_equal(crisp_recorder_open(&o, &r, &err), -ENOENT);
        assert_non_null(strstr(err->msg, "cannot open the recording /nonexistent/dir/rec.jsonl"));
        crisp_error_free(&err);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(file_is_0600_and_every_record_is_written_by_close,
                                            setup, teardown),
            cmocka_unit_test_setup_teardown(the_size_limit_stops_recording, setup, teardown),
            cmocka_unit_test_setup_teardown(a_reopen_switches_files_between_records, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(the_budget_refuses_instead_of_growing, setup, teardown),
            cmocka_unit_test(an_unwritable_path_is_an_error),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
