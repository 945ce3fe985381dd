/* issue 22: the folders crisp writes to: which ones each setting needs,
 * created with their parents and exact modes whatever the umask, refused
 * with one line naming the setting and the folder, and nothing left behind
 * by a refused start. Runs as any user; a folder that is "not writable"
 * even for root is one under /proc (the Python tests use read-only mounts:
 * tests/operate/test_startup_paths.py). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_files.h"

#include "config/paths.h"

struct fixture {
        char dir[64];
        mode_t umask_before;
};

static int setup(void **state)
{
        static struct fixture f;
        if (crisp_test_dir_make(f.dir, sizeof(f.dir), "paths") < 0)
                return -1;
        /* The unit's UMask=0077: the modes must come out exact anyway. */
        f.umask_before = umask(077);
        *state = &f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        umask(f->umask_before);
        chmod(f->dir, 0700);
        return crisp_test_dir_remove(f->dir);
}

static char *at(const struct fixture *f, const char *rel)
{
        static char buf[4][512];
        static int next;
        char *p = buf[next++ % 4];
        snprintf(p, sizeof(buf[0]), "%s/%s", f->dir, rel);
        return p;
}

static unsigned mode_of(const char *path)
{
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        return st.st_mode & 07777;
}

static bool exists(const char *path)
{
        struct stat st;
        return lstat(path, &st) == 0;
}

static size_t entries(const char *dir)
{
        DIR *d = opendir(dir);
        assert_non_null(d);
        size_t n = 0;
        for (struct dirent *e; (e = readdir(d)) != NULL;)
                n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
        closedir(d);
        return n;
}

static void dirname_of_each_kind(void **state)
{
        (void)state;
        char d[32];
        assert_int_equal(crisp_path_dirname("/run/crisp/crisp.sock", d, sizeof(d)), 0);
        assert_string_equal(d, "/run/crisp");
        assert_int_equal(crisp_path_dirname("/crisp.sock", d, sizeof(d)), 0);
        assert_string_equal(d, "/");
        assert_int_equal(crisp_path_dirname("cri.jsonl", d, sizeof(d)), 0);
        assert_string_equal(d, ".");
        assert_int_equal(crisp_path_dirname("logs/cri.jsonl", d, sizeof(d)), 0);
        assert_string_equal(d, "logs");
        assert_int_equal(crisp_path_dirname("/a-folder-name-longer-than-32-bytes/x", d, sizeof(d)),
                         -ENAMETOOLONG);
}

static void each_setting_needs_its_folder(void **state)
{
        (void)state;
        struct crisp_options o;
        crisp_options_defaults(&o);
        snprintf(o.listen, sizeof(o.listen), "/run/crisp/crisp.sock");
        struct crisp_path_need needs[CRISP_PATHS_MAX];

        /* enforce, nothing else: only the socket's folder. complainDir is
         * never touched outside complain mode (the unit's file system is
         * read-only there without 40-complain.conf). */
        assert_int_equal(crisp_paths_needed(&o, needs), 1);
        assert_string_equal(needs[0].what, "listen");
        assert_string_equal(needs[0].value, "/run/crisp/crisp.sock");
        assert_string_equal(needs[0].dir, "/run/crisp");
        assert_int_equal(needs[0].mode, 0750);
        assert_false(needs[0].runtime_reads);
        o.policy.mode = CRISP_MODE_AUDIT;
        assert_int_equal(crisp_paths_needed(&o, needs), 1);

        /* A TCP metrics address has no folder; a unix one has. */
        snprintf(o.metrics_listen, sizeof(o.metrics_listen), "127.0.0.1:9760");
        assert_int_equal(crisp_paths_needed(&o, needs), 1);
        snprintf(o.metrics_listen, sizeof(o.metrics_listen), "unix:///run/crisp-m/metrics.sock");
        snprintf(o.record_path, sizeof(o.record_path), "/var/log/crisp/cri.jsonl");
        o.policy.mode = CRISP_MODE_COMPLAIN;
        assert_int_equal(crisp_paths_needed(&o, needs), 4);
        assert_string_equal(needs[1].what, "metrics.listen");
        assert_string_equal(needs[1].dir, "/run/crisp-m");
        assert_int_equal(needs[1].mode, 0750);
        assert_string_equal(needs[2].what, "record.path");
        assert_string_equal(needs[2].dir, "/var/log/crisp");
        assert_int_equal(needs[2].mode, 0750);
        assert_string_equal(needs[3].what, "complainDir");
        assert_string_equal(needs[3].dir, "/var/lib/crisp/complain");
        assert_int_equal(needs[3].mode, 0755);
        assert_true(needs[3].runtime_reads);
        crisp_options_release(&o);
}

static void make_creates_parents_with_exact_modes(void **state)
{
        struct fixture *f = *state;
        struct crisp_made_dirs made = {.n = 0};
        crisp_error *err = NULL;
        assert_int_equal(crisp_dir_make(at(f, "a/b/c/"), 0750, &made, &err), 0);
        assert_null(err);
        assert_int_equal(made.n, 3);
        assert_string_equal(made.paths[0], at(f, "a"));
        assert_string_equal(made.paths[2], at(f, "a/b/c"));
        assert_int_equal(mode_of(at(f, "a")), 0755);
        assert_int_equal(mode_of(at(f, "a/b")), 0755);
        assert_int_equal(mode_of(at(f, "a/b/c")), 0750);
        /* A second call finds it: nothing made, nothing changed. */
        struct crisp_made_dirs again = {.n = 0};
        chmod(at(f, "a/b/c"), 0700);
        assert_int_equal(crisp_dir_make(at(f, "a/b/c"), 0750, &again, NULL), 0);
        assert_int_equal(again.n, 0);
        assert_int_equal(mode_of(at(f, "a/b/c")), 0700);
        /* Undone newest first: all gone, the fixture's folder stays. */
        crisp_made_dirs_undo(&made);
        assert_int_equal(made.n, 0);
        assert_false(exists(at(f, "a")));
        assert_int_equal(entries(f->dir), 0);
}

static void make_follows_a_link_to_a_folder(void **state)
{
        struct fixture *f = *state;
        assert_int_equal(mkdir(at(f, "real"), 0700), 0);
        assert_int_equal(symlink(at(f, "real"), at(f, "link")), 0);
        struct crisp_made_dirs made = {.n = 0};
        /* As /var/run -> /run: the link is a folder on the way. */
        assert_int_equal(crisp_dir_make(at(f, "link/crisp"), 0750, &made, NULL), 0);
        assert_int_equal(made.n, 1);
        assert_int_equal(mode_of(at(f, "real/crisp")), 0750);
        crisp_made_dirs_release(&made);
}

static void make_refuses_a_file_in_the_way(void **state)
{
        struct fixture *f = *state;
        crisp_test_write_file(at(f, "file"), "not a folder\n");
        _cleanup_error_ crisp_error *err = NULL;
        struct crisp_made_dirs made = {.n = 0};
        assert_int_equal(crisp_dir_make(at(f, "new/file/sub"), 0750, &made, &err), 0);
        crisp_made_dirs_undo(&made);
        assert_int_equal(crisp_dir_make(at(f, "file/sub"), 0750, &made, &err), -ENOTDIR);
        assert_non_null(strstr(err->msg, at(f, "file exists and is not a folder")));
        assert_int_equal(made.n, 0);
        crisp_error_free(&err);
        assert_int_equal(crisp_dir_make(at(f, "file"), 0750, &made, &err), -ENOTDIR);
        assert_non_null(strstr(err->msg, "is not a folder"));
}

static void make_says_which_folder_it_could_not_create(void **state)
{
        (void)state;
        _cleanup_error_ crisp_error *err = NULL;
        struct crisp_made_dirs made = {.n = 0};
        /* procfs refuses new folders, even to root. */
        int r = crisp_dir_make("/proc/crisp-test-paths/x", 0750, &made, &err);
        assert_true(r < 0);
        assert_non_null(err);
        assert_non_null(strstr(err->msg, "cannot create the folder /proc/crisp-test-paths: "));
        assert_int_equal(made.n, 0);
}

static void writable_is_tried_for_real(void **state)
{
        struct fixture *f = *state;
        assert_int_equal(crisp_dir_check_writable(f->dir, NULL), 0);
        assert_int_equal(entries(f->dir), 0); /* the probe is gone */
        _cleanup_error_ crisp_error *err = NULL;
        assert_true(crisp_dir_check_writable("/proc", &err) < 0);
        assert_non_null(strstr(err->msg, "cannot write in the folder /proc: "));
        crisp_error_free(&err);
        assert_int_equal(crisp_dir_check_writable(at(f, "missing"), &err), -ENOENT);
}

static void others_must_search_every_folder_on_the_way(void **state)
{
        struct fixture *f = *state;
        _cleanup_error_ crisp_error *err = NULL;
        assert_int_equal(mkdir(at(f, "open"), 0755), 0);
        assert_int_equal(chmod(at(f, "open"), 0755), 0); /* the fixture's umask is 077 */
        assert_int_equal(mkdir(at(f, "open/closed"), 0755), 0);
        assert_int_equal(chmod(at(f, "open/closed"), 0750), 0);
        assert_int_equal(mkdir(at(f, "open/closed/twins"), 0755), 0);
        assert_int_equal(chmod(at(f, "open/closed/twins"), 0755), 0);
        assert_int_equal(chmod(f->dir, 0711), 0); /* search, not read: enough */

        assert_int_equal(crisp_dir_check_others_search(at(f, "open"), NULL), 0);
        assert_int_equal(crisp_dir_check_others_search(at(f, "open/closed/twins"), &err), -EACCES);
        assert_non_null(strstr(err->msg, at(f, "open/closed is mode 0750")));
        crisp_error_free(&err);
        /* Links are resolved: the real folders on the way count. */
        assert_int_equal(symlink(at(f, "open/closed/twins"), at(f, "open/twins")), 0);
        assert_int_equal(crisp_dir_check_others_search(at(f, "open/twins"), &err), -EACCES);
        assert_non_null(strstr(err->msg, at(f, "open/closed is mode 0750")));
        crisp_error_free(&err);
        assert_int_equal(chmod(at(f, "open/closed"), 0751), 0);
        assert_int_equal(crisp_dir_check_others_search(at(f, "open/twins"), NULL), 0);
        /* The fixture's own folder is on the way too. */
        assert_int_equal(chmod(f->dir, 0700), 0);
        assert_int_equal(crisp_dir_check_others_search(at(f, "open"), &err), -EACCES);
        assert_non_null(strstr(err->msg, "is mode 0700: others may not search it"));
}

static void options_in(const struct fixture *f, struct crisp_options *o)
{
        crisp_options_defaults(o);
        snprintf(o->listen, sizeof(o->listen), "%s", at(f, "run/crisp/crisp.sock"));
        snprintf(o->complain_dir, sizeof(o->complain_dir), "%s", at(f, "lib/crisp/complain"));
        o->policy.mode = CRISP_MODE_COMPLAIN;
}

static void prepare_creates_every_folder(void **state)
{
        struct fixture *f = *state;
        assert_int_equal(chmod(f->dir, 0755), 0);
        struct crisp_options o;
        options_in(f, &o);
        snprintf(o.record_path, sizeof(o.record_path), "%s", at(f, "log/crisp/cri.jsonl"));
        snprintf(o.metrics_listen, sizeof(o.metrics_listen), "%s", at(f, "run/crisp/m.sock"));
        _cleanup_error_ crisp_error *err = NULL;
        assert_int_equal(crisp_paths_prepare(&o, &err), 0);
        assert_int_equal(mode_of(at(f, "run")), 0755);
        assert_int_equal(mode_of(at(f, "run/crisp")), 0750);
        assert_int_equal(mode_of(at(f, "log/crisp")), 0750);
        assert_int_equal(mode_of(at(f, "lib/crisp")), 0755);
        assert_int_equal(mode_of(at(f, "lib/crisp/complain")), 0755);
        assert_int_equal(entries(at(f, "run/crisp")), 0);
        assert_int_equal(entries(at(f, "lib/crisp/complain")), 0);
        /* Again: all there, nothing to do. */
        assert_int_equal(crisp_paths_prepare(&o, &err), 0);
        crisp_options_release(&o);
}

static void a_refused_start_leaves_nothing_behind(void **state)
{
        struct fixture *f = *state;
        assert_int_equal(chmod(f->dir, 0755), 0);
        struct crisp_options o;
        options_in(f, &o);
        /* complainDir, prepared last, cannot be made: a file is in the way.
         * The socket's folders, made first, are removed again. */
        assert_int_equal(mkdir(at(f, "lib"), 0755), 0);
        crisp_test_write_file(at(f, "lib/crisp"), "");
        _cleanup_error_ crisp_error *err = NULL;
        assert_int_equal(crisp_paths_prepare(&o, &err), -ENOTDIR);
        char want[1024];
        snprintf(want, sizeof(want), "complainDir %s: %s exists and is not a folder",
                 at(f, "lib/crisp/complain"), at(f, "lib/crisp"));
        assert_string_equal(err->msg, want);
        assert_false(exists(at(f, "run")));
        crisp_options_release(&o);
}

static void a_complain_dir_the_runtime_could_not_read_is_refused(void **state)
{
        struct fixture *f = *state;
        /* The fixture's folder is 0700, as mkdtemp makes it: others may not
         * search it, so a runtime reading as others could not open a twin. */
        assert_int_equal(chmod(f->dir, 0700), 0);
        struct crisp_options o;
        options_in(f, &o);
        _cleanup_error_ crisp_error *err = NULL;
        assert_int_equal(crisp_paths_prepare(&o, &err), -EACCES);
        char want[1024];
        snprintf(want, sizeof(want),
                 "complainDir %s: the runtime could not read the twins in it: %s is mode 0700: "
                 "others may not search it (chmod o+x that folder, or choose another "
                 "complainDir)",
                 at(f, "lib/crisp/complain"), f->dir);
        assert_string_equal(err->msg, want);
        assert_int_equal(entries(f->dir), 0);
        crisp_options_release(&o);
}

static void a_complain_dir_of_its_own_is_opened_up(void **state)
{
        struct fixture *f = *state;
        assert_int_equal(chmod(f->dir, 0755), 0);
        /* As a crisp before issue 22 left it under the unit's UMask=0077. */
        assert_int_equal(mkdir(at(f, "twins"), 0700), 0);
        struct crisp_options o;
        options_in(f, &o);
        snprintf(o.complain_dir, sizeof(o.complain_dir), "%s", at(f, "twins"));
        assert_int_equal(crisp_paths_prepare(&o, NULL), 0);
        assert_int_equal(mode_of(at(f, "twins")), 0755);
        crisp_options_release(&o);
}

static void only_a_reload_into_complain_prepares_the_running_dir(void **state)
{
        struct fixture *f = *state;
        assert_int_equal(chmod(f->dir, 0755), 0);
        struct crisp_options running, next;
        options_in(f, &running);
        options_in(f, &next);
        running.policy.mode = CRISP_MODE_ENFORCE;
        /* complainDir is restart-only: the running one is what the twins use. */
        snprintf(next.complain_dir, sizeof(next.complain_dir), "%s", at(f, "next/complain"));
        next.policy.mode = CRISP_MODE_AUDIT;
        assert_int_equal(crisp_paths_prepare_reload(&running, &next, NULL), 0);
        assert_int_equal(entries(f->dir), 0); /* nor the socket's folder: restart-only */
        next.policy.mode = CRISP_MODE_COMPLAIN;
        assert_int_equal(crisp_paths_prepare_reload(&running, &next, NULL), 0);
        assert_int_equal(mode_of(at(f, "lib/crisp/complain")), 0755);
        assert_false(exists(at(f, "next")));
        assert_false(exists(at(f, "run")));
        /* The same refusals as at start. */
        _cleanup_error_ crisp_error *err = NULL;
        assert_int_equal(chmod(f->dir, 0700), 0);
        assert_int_equal(crisp_paths_prepare_reload(&running, &next, &err), -EACCES);
        assert_non_null(strstr(err->msg, "the runtime could not read the twins in it"));
        crisp_options_release(&running);
        crisp_options_release(&next);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(dirname_of_each_kind),
            cmocka_unit_test(each_setting_needs_its_folder),
            cmocka_unit_test_setup_teardown(make_creates_parents_with_exact_modes, setup, teardown),
            cmocka_unit_test_setup_teardown(make_follows_a_link_to_a_folder, setup, teardown),
            cmocka_unit_test_setup_teardown(make_refuses_a_file_in_the_way, setup, teardown),
            cmocka_unit_test(make_says_which_folder_it_could_not_create),
            cmocka_unit_test_setup_teardown(writable_is_tried_for_real, setup, teardown),
            cmocka_unit_test_setup_teardown(others_must_search_every_folder_on_the_way, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(prepare_creates_every_folder, setup, teardown),
            cmocka_unit_test_setup_teardown(a_refused_start_leaves_nothing_behind, setup, teardown),
            cmocka_unit_test_setup_teardown(a_complain_dir_the_runtime_could_not_read_is_refused,
                                            setup, teardown),
            cmocka_unit_test_setup_teardown(a_complain_dir_of_its_own_is_opened_up, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(only_a_reload_into_complain_prepares_the_running_dir,
                                            setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
