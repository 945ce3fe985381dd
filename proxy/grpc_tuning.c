/* Debian 12 builds Abseil without NDEBUG, which leaves absl::Mutex's
 * deadlock detection on: every lock gRPC takes also updates a global lock
 * graph (GraphCycles in perf profiles). Upstream's release builds have it
 * off. It is a debugging aid with no effect on behaviour; turning it off
 * took about 5% of crisp's CPU per call at 64 calls in flight (BENCHMARKS.md).
 *
 * Abseil's switch is a C++ function; crisp is C, so it is looked up by its
 * mangled name in Debian's libabsl_synchronization (inline namespace
 * "debian3"). Where it is not found (another Abseil, the static build) the
 * detection stays as that build has it, and nothing else changes. */
#include "grpc_tuning.h"

#include <dlfcn.h>
#include <stddef.h>

/* absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle), whose enum
 * class is an int: kIgnore = 0. */
#define ABSL_SET_DEADLOCK_MODE                                                                     \
        "_ZN4absl7debian329SetMutexDeadlockDetectionModeENS0_15OnDeadlockCycleE"
#define ABSL_DEADLOCK_IGNORE 0

void crisp_grpc_tune(void)
{
        void *sym = dlsym(RTLD_DEFAULT, ABSL_SET_DEADLOCK_MODE);
        if (sym == NULL)
                return;
        void (*set_mode)(int);
        /* POSIX: a function pointer from dlsym is converted through the bytes. */
        _Static_assert(sizeof(set_mode) == sizeof(sym), "function and data pointers differ");
        __builtin_memcpy(&set_mode, &sym, sizeof(set_mode));
        set_mode(ABSL_DEADLOCK_IGNORE);
}
