/* issue 14 (complain mode): the logging twin of a seccomp profile.
 *
 * A twin has the rules of the profile enforce would give a container, with
 * the default action and every ERRNO/KILL/TRAP rule turned into
 * SCMP_ACT_LOG: nothing is blocked, and the kernel reports each syscall the
 * real profile would deny (audit type=1326). Two sources:
 *   - containerd 1.6's built-in RuntimeDefault, which containerd generates
 *     from the container's capabilities (twin.c keeps crisp's own table of
 *     it, with its source);
 *   - a custom defaultProfile (Localhost) file, converted rule by rule.
 * One exception, on purpose: an ERRNO rule answering ENOSYS (containerd's
 * clone3 rule) is kept. ENOSYS means "not implemented, fall back" and every
 * libc does (glibc >= 2.34 tries clone3 first, then clone); logging it
 * would report every threaded program as one that RuntimeDefault breaks.
 * Pure code: no file system except crisp_twin_write. */
#ifndef CRISP_COMPLAIN_TWIN_H
#define CRISP_COMPLAIN_TWIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* A capability set: bit n is the capability numbered n in
 * linux/capability.h (CAP_CHOWN = 0 ... CAP_CHECKPOINT_RESTORE = 40). */
typedef uint64_t crisp_caps;

/* The capability number of "SYS_ADMIN" (what the CRI carries; the "CAP_"
 * prefix is accepted too), any case; -1 when unknown. */
int crisp_cap_number(const char *name, size_t len);

/* containerd 1.6's default set (oci.WithDefaultSpec): the 14 capabilities a
 * container gets when the request does not ask for others. */
crisp_caps crisp_caps_containerd_default(void);

/* One capability name as it came on the wire (not NUL-terminated). */
struct crisp_cap_name {
        const char *name;
        size_t len;
};

/* The bounding set containerd 1.6 gives a container whose security context
 * asks for these (pkg/cri/opts WithCapabilities): "ALL" in add gives every
 * capability, "ALL" in drop clears the set, then each named add, then each
 * named drop. Unknown names change nothing here (runc refuses them). */
crisp_caps crisp_caps_effective(const struct crisp_cap_name *add, size_t n_add,
                                const struct crisp_cap_name *drop, size_t n_drop);

/* The twin of containerd 1.6's RuntimeDefault for a container with `caps`
 * on a kernel `kernel_major.kernel_minor`, as profile JSON (malloc'ed). */
int crisp_twin_runtime_default(crisp_caps caps, unsigned kernel_major, unsigned kernel_minor,
                               char **json, crisp_error **err);

/* The twin of a custom profile (its JSON bytes): same rules and keys,
 * defaultAction and ERRNO/KILL/TRAP rules become SCMP_ACT_LOG (errnoRet and
 * defaultErrnoRet dropped), ENOSYS rules kept, see above. `name` stands for
 * the file in errors. */
int crisp_twin_of_profile(const char *name, const char *data, size_t len, char **json,
                          crisp_error **err);

/* Validates `json` with crisp's profile checker (config/seccomp_profile.h),
 * refuses it unless it blocks nothing (no ERRNO/KILL/TRAP default, no KILL
 * or TRAP rule), and writes it to `dir`/twin-<hash of the content>.json (a
 * temporary file renamed in place, so containerd never reads half a file;
 * an existing file of that name already holds the same bytes). `dir` is
 * made at start (config/paths.h); removed since, it is made again, with
 * its parents and modes. The path goes to `path`. */
int crisp_twin_write(const char *dir, const char *json, char *path, size_t path_size,
                     crisp_error **err);

#endif
