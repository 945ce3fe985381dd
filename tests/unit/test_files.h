/* Files for unit tests that read from disk: a temporary folder per test
 * (made in setup, removed with everything in it in teardown) and a way to
 * write a file's text. Include after <cmocka.h>. */
#ifndef CRISP_TEST_FILES_H
#define CRISP_TEST_FILES_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static inline int crisp_test_remove_one(const char *p, const struct stat *st, int flag,
                                        struct FTW *ftw)
{
        (void)st;
        (void)flag;
        (void)ftw;
        return remove(p);
}

/* Makes a fresh folder /tmp/crisp-test-NAME-XXXXXX into dir[size]; 0 or -1. */
static inline int crisp_test_dir_make(char *dir, size_t size, const char *name)
{
        snprintf(dir, size, "/tmp/crisp-test-%s-XXXXXX", name);
        return mkdtemp(dir) == NULL ? -1 : 0;
}

/* Removes `dir` and everything in it; 0 or -1. */
static inline int crisp_test_dir_remove(const char *dir)
{
        return nftw(dir, crisp_test_remove_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* Writes `text` to `path` (replacing it), failing the test on any error. */
static inline void crisp_test_write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
        assert_int_equal(fclose(f), 0);
}

#endif
