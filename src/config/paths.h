/* issue 22: the folders crisp writes to, made ready before it serves.
 *
 * On a bare node nothing but crisp creates the folders its settings name
 * (systemd's RuntimeDirectory=, StateDirectory= and LogsDirectory= do it
 * only under the unit). So at start (proxy/main.c), before the server
 * starts, crisp goes over every folder it will write to:
 *
 *   setting          folder                    created   checks
 *   listen           the socket's folder       0750      writable
 *   metrics.listen   a unix path's folder      0750      writable
 *   record.path      the file's folder         0750      writable
 *   complainDir      itself (complain mode)    0755      writable; the runtime
 *                                                        can reach the twins
 *
 * Missing parents are created 0755; every mode is set exactly, whatever the
 * umask (the unit's UMask=0077). Folders are owned by the user crisp runs
 * as (root). "Writable" is tried for real (a probe file, created and
 * removed): root ignores permission bits, but not a read-only mount, a full
 * disk or an immutable folder. "The runtime can reach the twins" means that
 * every folder from / down to complainDir lets others search it (o+x): the
 * runtime itself (containerd's CRI plugin, CRI-O), not runc, opens a
 * Localhost profile by its path. As root in the host's user namespace it
 * could open it anyway, but as a rootless runtime, root in a user
 * namespace, root without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, or root
 * on a root-squashed NFS mount it has only the permissions of others. The
 * twins themselves are 0644. A complainDir of crisp's own (its owner is
 * crisp's user) that others may not search, as a crisp before issue 22 made
 * it under UMask=0077, is opened up to o+rx instead, and logged.
 *
 * A folder that cannot be created, is not a folder, cannot be written or
 * (complainDir) cannot be reached fails the whole call with one error
 * naming the setting and the folder; the folders this call created are
 * removed again, and nothing is logged but the error the caller logs (and
 * an opened-up complainDir, which stays so). On success each created
 * folder is logged once.
 *
 * At a reload (proxy/reload.c) only complainDir is prepared, when the new
 * config is in complain mode: listen, metrics.listen and record keep their
 * running values until a restart, and so does complainDir (the running one
 * is the one prepared). */
#ifndef CRISP_PATHS_H
#define CRISP_PATHS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/error.h"
#include "config/settings.h"

#define CRISP_SOCKET_DIR_MODE   0750 /* the unit's RuntimeDirectoryMode= */
#define CRISP_RECORD_DIR_MODE   0750 /* the unit's LogsDirectoryMode= */
#define CRISP_COMPLAIN_DIR_MODE 0755 /* 40-complain.conf's StateDirectoryMode= */
#define CRISP_PARENT_DIR_MODE   0755 /* missing parents, as mkdir -p makes them */

#define CRISP_PATHS_MAX 4

/* One folder a setting needs. */
struct crisp_path_need {
        const char *what;  /* the setting, for messages: "listen", "complainDir", ... */
        const char *value; /* its value (not owned: the options' own) */
        char dir[4096];
        mode_t mode;        /* when crisp creates it */
        bool runtime_reads; /* complainDir: the runtime opens files in it */
};

/* The folders `opts` needs, in the order they are prepared; returns how
 * many (at most CRISP_PATHS_MAX). complainDir only in complain mode;
 * metrics.listen only for a unix path. */
size_t crisp_paths_needed(const struct crisp_options *opts,
                          struct crisp_path_need needs[CRISP_PATHS_MAX]);

/* The folder of a file path: "/run/crisp/crisp.sock" -> "/run/crisp",
 * "/crisp.sock" -> "/", "cri.jsonl" -> ".". 0 or -ENAMETOOLONG. */
int crisp_path_dirname(const char *path, char *dir, size_t size);

/* The folders one or more crisp_dir_make calls created, oldest first. */
#define CRISP_MADE_DIRS_MAX 64
struct crisp_made_dirs {
        char *paths[CRISP_MADE_DIRS_MAX];
        size_t n;
};

/* Creates `dir` and its missing parents (parents CRISP_PARENT_DIR_MODE,
 * `dir` itself `mode`, both exactly). A `dir` that exists as a folder (or a
 * symbolic link to one) is left as it is. Each folder created is added to
 * `made` (may be NULL). Fails with -ENOTDIR when a component is not a
 * folder, else with the errno of what failed; *err names the folder. */
int crisp_dir_make(const char *dir, mode_t mode, struct crisp_made_dirs *made, crisp_error **err);

/* Removes the folders of `made`, newest first (only while empty), and
 * empties it. */
void crisp_made_dirs_undo(struct crisp_made_dirs *made);
/* Empties `made`, keeping the folders. */
void crisp_made_dirs_release(struct crisp_made_dirs *made);

/* 0 when a file can be created in `dir` (tried: a probe file is created
 * and removed), else the errno of the failure. */
int crisp_dir_check_writable(const char *dir, crisp_error **err);

/* 0 when every folder from / down to `dir` (symbolic links resolved) lets
 * others search it (o+x); else -EACCES, *err naming the first that does
 * not and its mode. */
int crisp_dir_check_others_search(const char *dir, crisp_error **err);

/* Start-up: prepares every folder of crisp_paths_needed(opts) as described
 * above. 0, or a negative errno with *err the one line to log. */
int crisp_paths_prepare(const struct crisp_options *opts, crisp_error **err);

/* Reload: prepares the running complainDir when `next` is in complain
 * mode (the other folders are restart-only). 0, or a negative errno with
 * *err saying why the new config must be refused. */
int crisp_paths_prepare_reload(const struct crisp_options *running,
                               const struct crisp_options *next, crisp_error **err);

#endif
