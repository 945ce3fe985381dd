/* The recorder: a bounded, asynchronous writer of recording lines on a
 * thread of its own (recorder.h). */
#include "record/recorder.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "record/record_identity.h"
#include "base/monotonic.h"

/* At most one "dropped" or "cannot write" warning per this many seconds: a
 * full disk must not turn into a flood of log lines. */
#define REPORT_INTERVAL_S 10

struct crisp_recorder {
        char *path;
        uint64_t max_size;
        size_t queue_bytes;
        bool redact;

        atomic_size_t held;    /* bytes reserved by records not yet written */
        atomic_bool accepting; /* false once the size limit stopped recording */
        atomic_uint_fast64_t dropped;
        atomic_uint_fast64_t written;
        atomic_uint_fast64_t over_limit;
        atomic_uint_fast64_t size;

        pthread_mutex_t mu;
        pthread_cond_t wake;
        /* Submitted, not yet written. A record without a method marks where
         * a reopen was asked for: records before it go to the old file. */
        struct crisp_call_record *head, *tail;
        bool closing;
        pthread_t thread;

        /* The writer thread's own. */
        int fd;
        bool stopped;
        uint64_t dropped_reported;
        struct timespec last_drop_report, last_write_error;
        bool write_error_seen;
};

static double seconds_since(const struct timespec *then)
{
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        return (double)(now.tv_sec - then->tv_sec) + (double)(now.tv_nsec - then->tv_nsec) / 1e9;
}

static int open_file(const char *path, uint64_t *size, crisp_error **err)
{
        /* 0600: a recording holds every pod spec and exec the kubelet sends. */
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
        if (fd < 0)
                return crisp_error_set_errno(err, errno, "cannot open the recording %s", path);
        struct stat st;
        if (fstat(fd, &st) < 0) {
                int e = errno;
                close(fd);
                return crisp_error_set_errno(err, e, "cannot stat the recording %s", path);
        }
        if (!S_ISREG(st.st_mode)) {
                close(fd);
                return crisp_error_set(err, EINVAL, "the recording %s is not a regular file", path);
        }
        *size = (uint64_t)st.st_size;
        return fd;
}

/* ---- the writer thread ------------------------------------------------------ */

static void report_drops(struct crisp_recorder *r, bool final)
{
        uint64_t total = atomic_load(&r->dropped);
        if (total == r->dropped_reported)
                return;
        if (!final && r->dropped_reported != 0 &&
            seconds_since(&r->last_drop_report) < REPORT_INTERVAL_S)
                return;
        log_warn("recording: dropped %" PRIu64 " calls (%" PRIu64 " in total): the recorder's "
                 "memory (--record-queue-size=%zu) was full or the file could not be written",
                 total - r->dropped_reported, total, r->queue_bytes);
        r->dropped_reported = total;
        clock_gettime(CLOCK_MONOTONIC, &r->last_drop_report);
}

static int write_all(int fd, const char *p, size_t n)
{
        while (n > 0) {
                ssize_t w = write(fd, p, n);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += w;
                n -= (size_t)w;
        }
        return 0;
}

static void write_record(struct crisp_recorder *r, struct crisp_call_record *rec)
{
        if (r->stopped) {
                atomic_fetch_add(&r->over_limit, 1);
                return;
        }
        char *line = NULL;
        size_t len = 0;
        /* Identity the rewriter did not give (--no-default): decoded here,
         * off the calls' path. */
        if (crisp_record_fill_identity(rec) < 0 ||
            crisp_record_to_json(rec, r->redact, &line, &len, NULL) < 0) {
                atomic_fetch_add(&r->dropped, 1);
                return;
        }
        uint64_t size = atomic_load(&r->size);
        if (size + len > r->max_size) {
                r->stopped = true;
                atomic_store(&r->accepting, false);
                atomic_fetch_add(&r->over_limit, 1);
                log_warn("recording stopped: %s would grow past --record-max-size=%" PRIu64
                         " bytes (it has %" PRIu64 "); move it away and send SIGHUP to record "
                         "again",
                         r->path, r->max_size, size);
                free(line);
                return;
        }
        int e = write_all(r->fd, line, len);
        free(line);
        if (e < 0) {
                atomic_fetch_add(&r->dropped, 1);
                if (!r->write_error_seen ||
                    seconds_since(&r->last_write_error) >= REPORT_INTERVAL_S) {
                        log_error("recording: cannot write to %s: %s", r->path, strerror(-e));
                        r->write_error_seen = true;
                        clock_gettime(CLOCK_MONOTONIC, &r->last_write_error);
                }
                /* A partial line may be in the file; fstat tells what really is. */
                struct stat st;
                if (fstat(r->fd, &st) == 0)
                        atomic_store(&r->size, (uint64_t)st.st_size);
                return;
        }
        atomic_fetch_add(&r->size, len);
        atomic_fetch_add(&r->written, 1);
}

static void reopen_file(struct crisp_recorder *r)
{
        uint64_t size = 0;
        _cleanup_error_ crisp_error *err = NULL;
        int fd = open_file(r->path, &size, &err);
        if (fd < 0) {
                log_error("recording: cannot reopen (SIGHUP): %s; still writing to the file "
                          "already open",
                          err->msg);
                return;
        }
        close(r->fd);
        r->fd = fd;
        atomic_store(&r->size, size);
        r->stopped = false;
        atomic_store(&r->accepting, true);
        log_info("recording reopened path=%s size=%" PRIu64, r->path, size);
}

static void *writer_main(void *arg)
{
        struct crisp_recorder *r = arg;
        pthread_mutex_lock(&r->mu);
        for (;;) {
                if (r->head == NULL && !r->closing) {
                        /* Wake now and then to report drops even when idle. */
                        struct timespec until = crisp_monotonic_after_ms(1000);
                        pthread_cond_timedwait(&r->wake, &r->mu, &until);
                }
                struct crisp_call_record *batch = r->head;
                r->head = r->tail = NULL;
                bool last = r->closing && batch == NULL;
                pthread_mutex_unlock(&r->mu);

                while (batch) {
                        struct crisp_call_record *next = batch->next;
                        if (batch->method == NULL)
                                reopen_file(r);
                        else
                                write_record(r, batch);
                        size_t held = batch->held_bytes;
                        crisp_call_record_free(batch);
                        crisp_recorder_release(r, held);
                        batch = next;
                }
                report_drops(r, last);
                if (last)
                        return NULL;
                pthread_mutex_lock(&r->mu);
        }
}

/* ---- the API --------------------------------------------------------------------- */

int crisp_recorder_open(const struct crisp_recorder_options *opts, struct crisp_recorder **out,
                        crisp_error **err)
{
        struct crisp_recorder *r = calloc(1, sizeof(*r));
        if (r == NULL || (r->path = strdup(opts->path)) == NULL) {
                free(r);
                return crisp_error_set(err, ENOMEM, "out of memory");
        }
        r->max_size = opts->max_size;
        r->queue_bytes = opts->queue_bytes;
        r->redact = opts->redact;
        uint64_t size = 0;
        r->fd = open_file(opts->path, &size, err);
        if (r->fd < 0) {
                int e = r->fd;
                free(r->path);
                free(r);
                return e;
        }
        atomic_store(&r->size, size);
        atomic_store(&r->accepting, true);

        crisp_cond_init_monotonic(&r->wake);
        pthread_mutex_init(&r->mu, NULL);

        int e = pthread_create(&r->thread, NULL, writer_main, r);
        if (e != 0) {
                close(r->fd);
                pthread_cond_destroy(&r->wake);
                pthread_mutex_destroy(&r->mu);
                free(r->path);
                free(r);
                return crisp_error_set_errno(err, e, "cannot start the recording thread");
        }
        *out = r;
        return 0;
}

bool crisp_recorder_accepting(struct crisp_recorder *r)
{
        return atomic_load_explicit(&r->accepting, memory_order_relaxed);
}

bool crisp_recorder_reserve(struct crisp_recorder *r, size_t bytes)
{
        if (bytes > r->queue_bytes)
                return false;
        size_t before = atomic_fetch_add(&r->held, bytes);
        if (before + bytes > r->queue_bytes) {
                atomic_fetch_sub(&r->held, bytes);
                return false;
        }
        return true;
}

void crisp_recorder_release(struct crisp_recorder *r, size_t bytes)
{
        atomic_fetch_sub(&r->held, bytes);
}

void crisp_recorder_count_drop(struct crisp_recorder *r)
{
        atomic_fetch_add(&r->dropped, 1);
}

void crisp_recorder_submit(struct crisp_recorder *r, struct crisp_call_record *rec)
{
        rec->next = NULL;
        pthread_mutex_lock(&r->mu);
        if (r->tail)
                r->tail->next = rec;
        else
                r->head = rec;
        r->tail = rec;
        pthread_cond_signal(&r->wake);
        pthread_mutex_unlock(&r->mu);
}

void crisp_recorder_reopen(struct crisp_recorder *r)
{
        /* A marker in the queue, so that every call that ended before the
         * SIGHUP is written to the old file and every later one to the new. */
        struct crisp_call_record *marker = calloc(1, sizeof(*marker));
        if (marker == NULL) {
                log_error("recording: out of memory: cannot reopen %s", r->path);
                return;
        }
        crisp_recorder_submit(r, marker);
}

void crisp_recorder_get_stats(struct crisp_recorder *r, struct crisp_recorder_stats *out)
{
        out->written = atomic_load(&r->written);
        out->dropped = atomic_load(&r->dropped);
        out->over_limit = atomic_load(&r->over_limit);
        out->bytes_file = atomic_load(&r->size);
}

void crisp_recorder_close(struct crisp_recorder *r)
{
        if (r == NULL)
                return;
        pthread_mutex_lock(&r->mu);
        r->closing = true;
        pthread_cond_signal(&r->wake);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->thread, NULL);

        if (close(r->fd) < 0)
                log_error("recording: closing %s: %s", r->path, strerror(errno));
        struct crisp_recorder_stats st;
        crisp_recorder_get_stats(r, &st);
        log_info("recording closed path=%s written=%" PRIu64 " dropped=%" PRIu64
                 " over_size_limit=%" PRIu64,
                 r->path, st.written, st.dropped, st.over_limit);
        pthread_cond_destroy(&r->wake);
        pthread_mutex_destroy(&r->mu);
        free(r->path);
        free(r);
}
