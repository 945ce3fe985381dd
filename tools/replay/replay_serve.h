/* `crisp replay FILE --serve SOCK` plays the runtime: it answers each call
 * with the next recorded call of the same method (in file order, per
 * method), sending the recorded responses, code and details. A method whose
 * records are used up is answered UNAVAILABLE; a method the recording never
 * saw, UNIMPLEMENTED. Requests are read to the client's half-close before
 * the answer starts (every CRI method is unary or server-streaming). */
#ifndef CRISP_REPLAY_SERVE_H
#define CRISP_REPLAY_SERVE_H

#include "base/error.h"
#include "record/record.h"

struct replay_serve;

/* Told about each call once its requests are in, before it is answered (on
 * the serve's thread): the record it is answered from (NULL when none) and
 * the requests as received. */
typedef void (*replay_served_fn)(void *arg, const char *method, const struct crisp_call_record *rec,
                                 const struct crisp_msg_list *received);

/* Serves `records` (not copied: they must outlive the serve) on `socket_path`. */
int replay_serve_start(const char *socket_path, struct crisp_call_record *const *records, size_t n,
                       replay_served_fn on_served, void *arg, struct replay_serve **out,
                       crisp_error **err);

/* Stops: cancels calls in flight, waits for everything, removes the socket. */
void replay_serve_stop(struct replay_serve *s);

/* The whole `--serve` mode: serves until SIGTERM or SIGINT, then returns 0. */
int replay_serve_main(const char *socket_path, struct crisp_call_record *const *records, size_t n);

#endif
