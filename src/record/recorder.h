/* The recorder: a bounded, asynchronous writer of recording lines.
 *
 * Calls are recorded on the relay's loop, where nothing may block: it only
 * copies bytes into a crisp_call_record and hands it over
 * (crisp_recorder_submit, O(1) under a mutex). One writer
 * thread turns records into JSON lines (redacting them if asked) and appends
 * them to the file, so a slow disk never slows a call.
 *
 * Memory is bounded: every byte a record holds, from its first copied
 * message until its line is written, is reserved against one budget
 * (queue_bytes). When the budget is spent, records are dropped, counted,
 * and reported in a rate-limited log line; calls never wait.
 *
 * The file is opened O_APPEND|O_CREAT|O_CLOEXEC with mode 0600. When it would
 * grow past max_size, recording stops with one log line (no rotation: the
 * operator, or logrotate, moves the file and sends SIGHUP, which reopens the
 * path and records again). No gRPC here. */
#ifndef CRISP_RECORDER_H
#define CRISP_RECORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "record/record.h"

struct crisp_recorder;

struct crisp_recorder_options {
        const char *path;
        uint64_t max_size;  /* bytes the file may reach */
        size_t queue_bytes; /* memory budget for records not yet written */
        bool redact;
};

struct crisp_recorder_stats {
        uint64_t written;    /* lines written */
        uint64_t dropped;    /* records dropped: budget spent, or a write failed */
        uint64_t over_limit; /* records not written because the size limit was reached */
        uint64_t bytes_file; /* the file's size as the recorder counts it */
};

/* Opens (creates) the file and starts the writer thread. */
int crisp_recorder_open(const struct crisp_recorder_options *opts, struct crisp_recorder **out,
                        crisp_error **err);

/* Whether new calls should be recorded (false once the size limit stopped
 * recording, until a reopen). Cheap: one atomic load. */
bool crisp_recorder_accepting(struct crisp_recorder *r);

/* Reserves `bytes` of the budget; false (nothing reserved) when it would be
 * exceeded. Never blocks. */
bool crisp_recorder_reserve(struct crisp_recorder *r, size_t bytes);

/* Gives back a reservation. */
void crisp_recorder_release(struct crisp_recorder *r, size_t bytes);

/* Counts a record that was given up before it was submitted. */
void crisp_recorder_count_drop(struct crisp_recorder *r);

/* Hands a finished record to the writer, which frees it and releases
 * rec->held_bytes (reserved by the caller) once it is written. */
void crisp_recorder_submit(struct crisp_recorder *r, struct crisp_call_record *rec);

/* Asks the writer to reopen the path (after logrotate moved the file). Returns
 * at once; records submitted before go to the old file, later ones to the
 * new, and the writer logs "recording reopened" when it has switched. */
void crisp_recorder_reopen(struct crisp_recorder *r);

void crisp_recorder_get_stats(struct crisp_recorder *r, struct crisp_recorder_stats *out);

/* Writes every record submitted so far, stops the writer, closes the file,
 * logs a summary and frees the recorder. Submit nothing after (or during)
 * this call. NULL is fine. */
void crisp_recorder_close(struct crisp_recorder *r);

#endif
