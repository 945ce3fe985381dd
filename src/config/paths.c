/* issue 22: the folders crisp writes to, created and checked before it
 * serves (paths.h). */
#include "config/paths.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/log.h"

int crisp_path_dirname(const char *path, char *dir, size_t size)
{
        const char *slash = strrchr(path, '/');
        int n;
        if (slash == NULL)
                n = snprintf(dir, size, ".");
        else if (slash == path)
                n = snprintf(dir, size, "/");
        else
                n = snprintf(dir, size, "%.*s", (int)(slash - path), path);
        return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static size_t add_need(struct crisp_path_need *needs, size_t n, const char *what, const char *value,
                       const char *dir, mode_t mode, bool runtime_reads)
{
        struct crisp_path_need *need = &needs[n];
        need->what = what;
        need->value = value;
        need->mode = mode;
        need->runtime_reads = runtime_reads;
        snprintf(need->dir, sizeof(need->dir), "%s", dir);
        return n + 1;
}

size_t crisp_paths_needed(const struct crisp_options *opts,
                          struct crisp_path_need needs[CRISP_PATHS_MAX])
{
        size_t n = 0;
        char dir[4096];
        /* Each value fits: the folder of a path is shorter than the path. */
        if (opts->listen[0] != '\0' && crisp_path_dirname(opts->listen, dir, sizeof(dir)) == 0)
                n = add_need(needs, n, "listen", opts->listen, dir, CRISP_SOCKET_DIR_MODE, false);
        const char *metrics = opts->metrics_listen;
        if (strncmp(metrics, "unix://", 7) == 0)
                metrics += 7;
        if (metrics[0] == '/' && crisp_path_dirname(metrics, dir, sizeof(dir)) == 0)
                n = add_need(needs, n, "metrics.listen", opts->metrics_listen, dir,
                             CRISP_SOCKET_DIR_MODE, false);
        if (opts->record_path[0] != '\0' &&
            crisp_path_dirname(opts->record_path, dir, sizeof(dir)) == 0)
                n = add_need(needs, n, "record.path", opts->record_path, dir, CRISP_RECORD_DIR_MODE,
                             false);
        if (opts->policy.mode == CRISP_MODE_COMPLAIN)
                n = add_need(needs, n, "complainDir", opts->complain_dir, opts->complain_dir,
                             CRISP_COMPLAIN_DIR_MODE, true);
        return n;
}

/* ---- creating folders ------------------------------------------------------------ */

static int remember(struct crisp_made_dirs *made, const char *path, crisp_error **err)
{
        if (made == NULL)
                return 0;
        if (made->n == CRISP_MADE_DIRS_MAX)
                return crisp_error_set(err, ENAMETOOLONG, "more than %d folders to create for %s",
                                       CRISP_MADE_DIRS_MAX, path);
        if ((made->paths[made->n] = strdup(path)) == NULL)
                return crisp_error_set(err, ENOMEM, "out of memory");
        made->n++;
        return 0;
}

/* Makes the one folder `path` (its parent exists) with exactly `mode`. */
static int make_one(const char *path, mode_t mode, struct crisp_made_dirs *made, crisp_error **err)
{
        struct stat st;
        if (stat(path, &st) == 0) {
                if (!S_ISDIR(st.st_mode))
                        return crisp_error_set(err, ENOTDIR, "%s exists and is not a folder", path);
                return 0;
        }
        if (errno != ENOENT)
                return crisp_error_set_errno(err, errno, "cannot inspect %s", path);
        if (mkdir(path, mode) < 0) {
                int e = errno;
                /* Made by someone else meanwhile: fine if it is a folder. */
                if (e == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
                        return 0;
                return crisp_error_set_errno(err, e, "cannot create the folder %s", path);
        }
        /* The umask (the unit's UMask=0077) must not narrow the documented
         * mode. Through a descriptor of the new folder itself: never a link
         * put in its place. */
        _cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || fchmod(fd, mode) < 0) {
                int e = errno;
                rmdir(path);
                return crisp_error_set_errno(err, e, "cannot set the mode of the new folder %s",
                                             path);
        }
        int r = remember(made, path, err);
        if (r < 0)
                rmdir(path);
        return r;
}

int crisp_dir_make(const char *dir, mode_t mode, struct crisp_made_dirs *made, crisp_error **err)
{
        char path[PATH_MAX];
        size_t n = strlen(dir);
        if (n == 0)
                return crisp_error_set(err, EINVAL, "no folder name");
        if (n >= sizeof(path))
                return crisp_error_set(err, ENAMETOOLONG, "the folder name is too long: %.64s...",
                                       dir);
        memcpy(path, dir, n + 1);
        while (n > 1 && path[n - 1] == '/')
                path[--n] = '\0';
        struct stat st;
        if (stat(path, &st) == 0) {
                if (!S_ISDIR(st.st_mode))
                        return crisp_error_set(err, ENOTDIR, "%s exists and is not a folder", path);
                return 0;
        }
        /* Each prefix ending before a '/', then the whole path. */
        for (char *p = path + 1; p <= path + n; p++) {
                if (*p != '/' && *p != '\0')
                        continue;
                if (p[-1] == '/')
                        continue; /* "a//b": the prefix "a/" was done as "a" */
                char saved = *p;
                *p = '\0';
                int r = make_one(path, saved == '\0' ? mode : CRISP_PARENT_DIR_MODE, made, err);
                *p = saved;
                if (r < 0)
                        return r;
        }
        return 0;
}

void crisp_made_dirs_release(struct crisp_made_dirs *made)
{
        for (size_t i = 0; i < made->n; i++)
                free(made->paths[i]);
        made->n = 0;
}

void crisp_made_dirs_undo(struct crisp_made_dirs *made)
{
        for (size_t i = made->n; i > 0; i--)
                rmdir(made->paths[i - 1]);
        crisp_made_dirs_release(made);
}

/* ---- checking them --------------------------------------------------------------- */

int crisp_dir_check_writable(const char *dir, crisp_error **err)
{
        char probe[PATH_MAX];
        int n = snprintf(probe, sizeof(probe), "%s/.crisp-probe-XXXXXX", dir);
        if (n < 0 || (size_t)n >= sizeof(probe))
                return crisp_error_set(err, ENAMETOOLONG, "the folder name is too long: %.64s...",
                                       dir);
        int fd = mkstemp(probe);
        if (fd < 0)
                return crisp_error_set_errno(err, errno, "cannot write in the folder %s", dir);
        close(fd);
        if (unlink(probe) < 0)
                return crisp_error_set_errno(err, errno, "cannot remove the probe file %s", probe);
        return 0;
}

static int check_others_search(const char *path, crisp_error **err)
{
        struct stat st;
        if (stat(path, &st) < 0)
                return crisp_error_set_errno(err, errno, "cannot inspect %s", path);
        if (!(st.st_mode & S_IXOTH))
                return crisp_error_set(err, EACCES, "%s is mode %04o: others may not search it",
                                       path, (unsigned)(st.st_mode & 07777));
        return 0;
}

int crisp_dir_check_others_search(const char *dir, crisp_error **err)
{
        _cleanup_free_ char *real = realpath(dir, NULL);
        if (real == NULL)
                return crisp_error_set_errno(err, errno, "cannot resolve %s", dir);
        int r = check_others_search("/", err);
        /* Then each longer prefix of the resolved path, and all of it. */
        size_t n = strlen(real);
        for (size_t i = 1; r == 0 && n > 1 && i <= n; i++) {
                if (real[i] != '/' && real[i] != '\0')
                        continue;
                char saved = real[i];
                real[i] = '\0';
                r = check_others_search(real, err);
                real[i] = saved;
        }
        return r;
}

/* ---- the settings' folders ------------------------------------------------------- */

/* What to do about a read-only folder under crisp.service, whose file
 * system is read-only but for the folders it names. */
static const char *read_only_hint(const struct crisp_path_need *need)
{
        if (strcmp(need->what, "complainDir") == 0)
                return " (under crisp.service, complain mode needs the drop-in 40-complain.conf, "
                       "which makes /var/lib/crisp writable)";
        if (strcmp(need->what, "record.path") == 0)
                return " (under crisp.service only /var/log/crisp is writable; for another "
                       "folder add ReadWritePaths= in a drop-in)";
        return " (under crisp.service only /run/crisp is writable)";
}

/* complainDir is crisp's own: one that others may not search and that
 * crisp's user owns (a crisp before issue 22 made it so under the unit's
 * UMask=0077) is opened up rather than refused. */
static int open_up_own(const char *dir, crisp_error **err)
{
        struct stat st;
        if (stat(dir, &st) < 0)
                return crisp_error_set_errno(err, errno, "cannot inspect %s", dir);
        if ((st.st_mode & S_IXOTH) || st.st_uid != geteuid())
                return 0;
        mode_t mode = (st.st_mode & 07777) | S_IRGRP | S_IXGRP | S_IROTH | S_IXOTH;
        if (chmod(dir, mode) < 0)
                return crisp_error_set_errno(err, errno, "cannot open up %s to mode %04o", dir,
                                             (unsigned)mode);
        log_info("opened up a folder path=%s from=%04o to=%04o reason=\"the runtime reads the "
                 "twins from it\"",
                 dir, (unsigned)(st.st_mode & 07777), (unsigned)mode);
        return 0;
}

static int prepare_one(const struct crisp_path_need *need, struct crisp_made_dirs *made,
                       crisp_error **err)
{
        _cleanup_error_ crisp_error *why = NULL;
        const char *prefix = "", *hint = "";
        int r = crisp_dir_make(need->dir, need->mode, made, &why);
        if (r == 0 && need->runtime_reads)
                r = open_up_own(need->dir, &why);
        if (r == 0 && need->runtime_reads) {
                r = crisp_dir_check_others_search(need->dir, &why);
                if (r == -EACCES) {
                        prefix = "the runtime could not read the twins in it: ";
                        hint = " (chmod o+x that folder, or choose another "
                               "complainDir)";
                }
        }
        if (r == 0)
                r = crisp_dir_check_writable(need->dir, &why);
        if (r == 0)
                return 0;
        if (r == -EROFS)
                hint = read_only_hint(need);
        return crisp_error_set(err, -r, "%s %s: %s%s%s", need->what, need->value, prefix,
                               why ? why->msg : "failed", hint);
}

static int prepare_all(const struct crisp_path_need *needs, size_t n, crisp_error **err)
{
        struct crisp_made_dirs made = {.n = 0};
        size_t first[CRISP_PATHS_MAX + 1];
        for (size_t i = 0; i < n; i++) {
                first[i] = made.n;
                int r = prepare_one(&needs[i], &made, err);
                if (r < 0) {
                        /* Nothing half done: the folders made for the
                         * settings before this one go too. */
                        crisp_made_dirs_undo(&made);
                        return r;
                }
        }
        first[n] = made.n;
        for (size_t i = 0; i < n; i++)
                for (size_t k = first[i]; k < first[i + 1]; k++) {
                        struct stat st;
                        unsigned mode = stat(made.paths[k], &st) == 0 ? st.st_mode & 07777 : 0;
                        log_info("created folder path=%s mode=%04o for=%s", made.paths[k], mode,
                                 needs[i].what);
                }
        crisp_made_dirs_release(&made);
        return 0;
}

int crisp_paths_prepare(const struct crisp_options *opts, crisp_error **err)
{
        struct crisp_path_need needs[CRISP_PATHS_MAX];
        return prepare_all(needs, crisp_paths_needed(opts, needs), err);
}

int crisp_paths_prepare_reload(const struct crisp_options *running,
                               const struct crisp_options *next, crisp_error **err)
{
        if (next->policy.mode != CRISP_MODE_COMPLAIN)
                return 0;
        struct crisp_path_need need;
        add_need(&need, 0, "complainDir", running->complain_dir, running->complain_dir,
                 CRISP_COMPLAIN_DIR_MODE, true);
        return prepare_all(&need, 1, err);
}
