/* The relay's internal types, shared by its files and by nothing else:
 *
 *   h2_conn.c      one HTTP/2 connection: a libuv pipe, an nghttp2 session,
 *                  zero-copy reads, one write per connection per loop turn
 *   downstream.c   the kubelet's side: accepted connections, nghttp2 server
 *                  sessions, requests in
 *   upstream.c     the runtime's side: the connection(s) crisp opens,
 *                  nghttp2 client sessions, responses in
 *   stream.c       one call: the two streams it pairs, the bytes queued each
 *                  way, crisp's own answers, the call's end
 *   first_message.c  the first request of RunPodSandbox / CreateContainer:
 *                  the rule, the policy, the pod-spec wait
 *   server.c       the whole: start, policy, shutdown, counts
 *
 * Everything runs on one libuv loop, on one thread: no locks on the data
 * path. Work that blocks (the pod-spec lookup, the recorder's writes) runs
 * on its own thread and comes back through a uv_async_t.
 *
 * Names: "down" is the kubelet's connection and stream (crisp is the
 * server), "up" the runtime's (crisp is the client); c2p is the request
 * direction (client to runtime), p2c the response direction. */
#ifndef CRISP_RELAY_H
#define CRISP_RELAY_H

#include <nghttp2/nghttp2.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "call_observer.h"
#include "podspec/spec_resolver.h"
#include "rule/policy_snapshot.h"
#include "rule/rewrite.h"
#include "wire/chunkq.h"
#include "wire/grpc_framing.h"

/* A connection stops asking nghttp2 for more output once this much waits
 * to be written: the peer is not reading, and what waits is bounded. */
#define RELAY_OUT_MAX (256 * 1024)
/* Each stream's receive window, both sides: how much of one call crisp
 * holds while the other side is slow to take it (a 16 MiB response passes
 * through in pieces of this size, never whole). */
#define RELAY_STREAM_WINDOW (256 * 1024)
/* The connection's receive window: large, so that a slow stream never
 * stalls the others on a shared connection (each is bounded by its own). */
#define RELAY_CONN_WINDOW ((1 << 30) - 1)
/* Streams one kubelet connection may have open at once (advertised). */
#define RELAY_MAX_STREAMS 4096

struct crisp_server;
struct relay_stream;

enum h2_role { H2_DOWN, H2_UP };

enum up_state {
        UP_CONNECTING, /* connect() not answered yet; requests queue in the session */
        UP_READY,
        UP_GOING_AWAY, /* the runtime said GOAWAY, or stream ids ran out: no new streams */
        UP_DEAD,       /* closed; its handle is closing */
};

/* Header fields of one HEADERS block, copied while nghttp2 delivers them:
 * names and values in one buffer, offsets per field. */
struct hdr_list {
        uint8_t *buf;
        uint32_t used, cap;
        uint32_t (*field)[4]; /* name offset, name length, value offset, value length */
        uint32_t n, nmax;
};

/* One HTTP/2 connection, either side. */
struct h2_conn {
        uv_pipe_t pipe; /* first: the handle's data is the connection too */
        enum h2_role role;
        struct crisp_server *srv;
        nghttp2_session *session;

        /* reading: nghttp2 sees each read in place; DATA is handed on as
         * chunks of this block (no copy) */
        struct crisp_block *rblock;
        size_t rused;

        /* writing: what nghttp2 produced since the last write; frame headers
         * are copied into wblock, DATA goes as chunks of read blocks */
        struct crisp_chunkq out;
        struct crisp_block *wblock;
        size_t wused;
        uv_write_t wreq;
        size_t writing; /* bytes handed to uv_write, 0: no write in flight */
        bool held_back; /* nghttp2 was told to wait: RELAY_OUT_MAX was queued */

        struct h2_conn *dirty_next; /* on the server's flush list */
        bool dirty;
        bool closing;
        bool busy; /* inside nghttp2 (a callback); the session is deleted after */

        struct hdr_list hdrs; /* the HEADERS block being received */

        struct relay_stream *streams; /* the streams on this connection */
        unsigned nstreams;
        struct h2_conn *prev, *next; /* the server's connections of this role */

        /* up only */
        enum up_state state;
        uv_connect_t connect_req;

        /* down only */
        bool goaway_sent;
        uv_timer_t *handshake; /* until the client's preface and SETTINGS */
        struct frame_guard *guard;
};

/* One direction of a call. */
struct relay_flow {
        struct crisp_chunkq q; /* bytes waiting for the receiving side's window */
        struct crisp_grpc_framer framer;
        bool eof;             /* the sender ended its side */
        bool deferred;        /* the data provider is waiting for bytes */
        bool started;         /* the data provider is attached (headers submitted) */
        bool finished;        /* the end (END_STREAM or trailers) was handed to nghttp2 */
        size_t nocredit;      /* bytes at the head of q already consumed (the rewritten message) */
        nghttp2_nv *trailers; /* sent after the data (copied; one block) */
        size_t ntrailers;
        /* the current message, reassembled for an observer or the rewriter */
        uint8_t *msg;
        uint32_t msg_have;
};

struct first_state; /* first_message.c */

/* One call: a stream from the kubelet paired with one to the runtime. */
struct relay_stream {
        struct crisp_server *srv;
        struct h2_conn *down; /* NULL once the client's stream closed */
        struct h2_conn *up;   /* NULL until opened, and once closed */
        int32_t down_id, up_id;
        /* its places in the lists of streams of `down` and of `up` */
        struct stream_links {
                struct relay_stream *prev, *next;
        } down_links, up_links;
        struct relay_stream *spec_next; /* on the server's answered-lookups list */

        struct relay_flow c2p, p2c;
        nghttp2_nv *held_headers; /* the request's, until the runtime's stream opens */
        size_t nheld;

        enum crisp_method method;
        char path[64]; /* the method, for logs (cut if longer) */

        bool own;               /* crisp's own call (readiness), no client */
        bool response_started;  /* response HEADERS submitted to the client */
        bool answered;          /* crisp answered the client itself */
        bool response_complete; /* the client's stream ended (END_STREAM sent) */
        bool up_finished;       /* the runtime's stream closed (normally or not) */
        bool up_done_early;     /* the runtime closed its stream (NO_ERROR) after answering */
        bool counted;           /* counted in the server's calls in flight */
        bool pinned;            /* a pod-spec lookup holds it */

        int64_t content_length; /* the request's content-length field, -1: none */
        uint64_t received;      /* request DATA bytes so far */
        int code;               /* the gRPC status the client got (-1: none yet) */
        char *details;          /* its message (malloc'd), for observers */
        struct crisp_policy_snapshot *snap;
        void *observed;            /* the observer's per-call state */
        unsigned wants;            /* CRISP_OBSERVE_* of this call */
        struct first_state *first; /* RunPodSandbox / CreateContainer only */

        /* crisp's own calls (readiness): told the status once */
        void (*on_own_done)(void *arg, int code);
        void *own_arg;
};

/* The relay as a whole (server.c). */
struct crisp_server {
        uv_loop_t *loop;
        size_t max_message_size;
        char listen[108];
        char runtime_endpoint[108];
        struct crisp_policy_holder policy;
        const struct crisp_call_observer *observer;
        struct crisp_spec_resolver *resolver;
        struct crisp_acceptor *acceptor;

        nghttp2_session_callbacks *down_callbacks, *up_callbacks;
        nghttp2_option *down_option, *up_option;

        struct h2_conn *downs;      /* the kubelet's connections */
        struct h2_conn *ups;        /* the runtime's connections */
        struct h2_conn *current_up; /* where new calls go; NULL: connect on the next call */
        bool up_failing;            /* the last connect failed (for /metrics and the log) */
        bool up_connected;          /* crisp was connected once (the log says "again") */

        struct h2_conn *dirty; /* connections to flush at the end of this loop turn */
        uv_prepare_t flush_before_poll;
        uv_check_t flush_after_poll;
        uv_timer_t linger; /* after cancel_all: clients that do not read are dropped */

        /* pod-spec lookups answered on the resolver's thread */
        uv_async_t spec_async;
        pthread_mutex_t spec_mu;
        struct relay_stream *spec_done;

        long calls;   /* calls in flight (streams from clients not yet ended) */
        long streams; /* relay streams alive, crisp's own included */
        bool shutting_down;
        bool cancelling;
        bool stopped; /* on_stopped was called */
        int open_handles;
        void (*on_stopped)(void *arg);
        void *on_stopped_arg;
};

/* What each side of the relay does with what nghttp2 receives. */
struct h2_role_callbacks {
        nghttp2_on_begin_headers_callback begin_headers;
        nghttp2_on_frame_recv_callback frame_recv;
        nghttp2_on_data_chunk_recv_callback data_chunk;
        nghttp2_on_stream_close_callback stream_close;
        nghttp2_on_frame_send_callback frame_send;            /* optional */
        nghttp2_on_frame_not_send_callback frame_not_send;    /* optional */
        nghttp2_on_invalid_frame_recv_callback invalid_frame; /* optional */
};

/* ---- h2_conn.c ---- */
/* The callbacks and options of a side's sessions (the same options both). */
int h2_session_setup(const struct h2_role_callbacks *role, nghttp2_session_callbacks **callbacks,
                     nghttp2_option **option);
/* The stream `len` received DATA bytes belong to, or NULL (then dropped);
 * gives the connection's window back for them. */
struct relay_stream *h2_data_stream(nghttp2_session *session, int32_t stream_id, size_t len);
void h2_conn_init(struct h2_conn *c, struct crisp_server *srv, enum h2_role role);
int h2_conn_start_reading(struct h2_conn *c);
/* Asks for a flush at the end of this loop turn. */
void h2_conn_want_flush(struct h2_conn *c);
/* Writes what nghttp2 has for the connection (the server's flush hook). */
void h2_conn_flush(struct h2_conn *c);
/* Closes the connection (its streams are ended by the role's on_closing). */
void h2_conn_close(struct h2_conn *c, const char *why);
/* The send callbacks both sides use. */
ssize_t h2_conn_send_cb(nghttp2_session *session, const uint8_t *data, size_t length, int flags,
                        void *user_data);
int h2_conn_send_data_cb(nghttp2_session *session, nghttp2_frame *frame, const uint8_t *framehd,
                         size_t length, nghttp2_data_source *source, void *user_data);

void hdr_list_reset(struct hdr_list *h);
int hdr_list_add(struct hdr_list *h, const uint8_t *name, size_t namelen, const uint8_t *value,
                 size_t valuelen);
/* The fields as an nghttp2_nv array in one new block (values copied), or NULL. */
nghttp2_nv *hdr_list_copy(const struct hdr_list *h, size_t *n);
/* Fills nv[h->n] pointing into the list (valid until it changes). */
void hdr_list_view(const struct hdr_list *h, nghttp2_nv *nv);
/* The value of `name`, or NULL. */
const uint8_t *hdr_list_get(const struct hdr_list *h, const char *name, size_t *len);
void hdr_list_free(struct hdr_list *h);
/* A copy of nv[n] in one block. */
nghttp2_nv *nv_copy(const nghttp2_nv *nv, size_t n);

/* ---- downstream.c ---- */
int downstream_init(struct crisp_server *srv);
/* Takes an accepted client connection (the acceptor's callback). */
void downstream_accept(int fd, void *arg);
/* Sends GOAWAY on every client connection (shutdown). */
void downstream_goaway_all(struct crisp_server *srv);
/* Closes a client connection with no stream left once draining. */
void downstream_maybe_close(struct h2_conn *c);
/* Submits the response headers (with a data provider, or ending the stream). */
int downstream_submit_response(struct relay_stream *st, const nghttp2_nv *nv, size_t n,
                               bool end_stream);

/* ---- upstream.c ---- */
int upstream_init(struct crisp_server *srv);
/* Opens the call on the runtime: the request headers `nv` (copied), with a
 * data provider on st->c2p. Answers the client itself when that cannot be
 * done. */
void upstream_open(struct relay_stream *st, const nghttp2_nv *nv, size_t n);
/* The connection state, for metrics: gRPC's connectivity numbers. */
int upstream_state(struct crisp_server *srv);
/* Closes idle runtime connections (shutdown). */
void upstream_close_all(struct crisp_server *srv);

/* ---- stream.c ---- */
struct relay_stream *stream_new(struct crisp_server *srv);
/* Puts the stream on connection `c` (either side) as stream `id`. */
void stream_link(struct relay_stream *st, struct h2_conn *c, int32_t id);
/* The stream after `st` in the list of connection `c`'s streams. */
struct relay_stream *stream_next_on(const struct relay_stream *st, const struct h2_conn *c);
/* A request's headers are complete (`h` holds them, checked). */
void stream_request_headers(struct relay_stream *st, const struct hdr_list *h);
/* Request bytes from the client, inside `block`. */
void stream_request_data(struct relay_stream *st, struct crisp_block *block, const uint8_t *p,
                         size_t len);
void stream_request_end(struct relay_stream *st);
/* The runtime's response headers, data, trailers. */
void stream_response_headers(struct relay_stream *st, const struct hdr_list *h, bool end_stream);
void stream_response_data(struct relay_stream *st, struct crisp_block *block, const uint8_t *p,
                          size_t len);
void stream_response_trailers(struct relay_stream *st, const struct hdr_list *h);
/* The runtime ended its side with DATA (no trailers). */
void stream_response_end(struct relay_stream *st);
/* nghttp2 closed the client's / the runtime's stream (error: its code). */
void stream_down_closed(struct relay_stream *st, uint32_t error_code);
void stream_up_closed(struct relay_stream *st, uint32_t error_code);
/* The runtime's connection is gone with the stream on it. */
void stream_up_lost(struct relay_stream *st, const char *why);
/* The client's connection is gone with the stream on it. */
void stream_down_lost(struct relay_stream *st);
/* Resets the client's stream (a request that breaks HTTP/2's rules: it
 * is not passed on); the runtime's stream, if open, is cancelled. */
void stream_reset_client(struct relay_stream *st, uint32_t error_code, const char *why);
/* Answers the client with crisp's own status (never twice); the runtime's
 * stream, if open, is cancelled. */
void stream_answer(struct relay_stream *st, int code, const char *message);
/* The data providers of both directions. */
ssize_t stream_read_c2p(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
                        uint32_t *data_flags, nghttp2_data_source *source, void *user_data);
ssize_t stream_read_p2c(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
                        uint32_t *data_flags, nghttp2_data_source *source, void *user_data);
/* Moves `length` bytes of a flow into a connection's output and returns the
 * window to the side they came from. */
void stream_flow_sent(struct relay_stream *st, struct relay_flow *flow, size_t length,
                      struct crisp_chunkq *out);
/* The client's stream ended with END_STREAM sent to it. */
void stream_response_sent(struct relay_stream *st);
/* Frees the stream once nothing refers to it any more. */
void stream_maybe_free(struct relay_stream *st);
/* Opens the runtime's stream with the held request headers. */
void stream_open_upstream(struct relay_stream *st);
/* Passes a request chunk on (after the first message, or for every call
 * crisp does not rewrite). */
void stream_forward_request(struct relay_stream *st, struct crisp_block *block, const uint8_t *p,
                            size_t len);

/* ---- first_message.c ---- */
/* Starts holding the request of a call crisp may rewrite. */
int first_begin(struct relay_stream *st);
/* The first request message is complete (`msg[len]`, owned from here on). */
void first_message(struct relay_stream *st, uint8_t *msg, size_t len);
/* The request ended before its first message did. */
void first_incomplete(struct relay_stream *st);
/* The runtime's first response message (RunPodSandbox: the sandbox id). */
void first_response(struct relay_stream *st, const uint8_t *msg, size_t len);
/* A pod-spec answer came back to the loop. */
void first_spec_answered(struct relay_stream *st);
void first_free(struct first_state *f);

/* ---- server.c ---- */
/* The stream counts; the server stops when the last goes after a shutdown. */
void server_stream_gone(struct crisp_server *srv, struct relay_stream *st);
void server_maybe_stopped(struct crisp_server *srv);

#endif
