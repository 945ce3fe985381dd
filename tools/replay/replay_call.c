/* One call made the way the replay makes them, synchronous on the gRPC C
 * core (replay_call.h). */
#include "replay_call.h"
#include "base/status_code.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>

#define REPLAY_MAX_MESSAGE (64 * 1024 * 1024)

grpc_channel *replay_channel(const char *path)
{
        grpc_arg args[] = {
            {.type = GRPC_ARG_INTEGER,
             .key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
             .value.integer = REPLAY_MAX_MESSAGE},
            {.type = GRPC_ARG_INTEGER,
             .key = (char *)GRPC_ARG_MAX_SEND_MESSAGE_LENGTH,
             .value.integer = REPLAY_MAX_MESSAGE},
            /* Each recorded call is made exactly once. */
            {.type = GRPC_ARG_INTEGER, .key = (char *)GRPC_ARG_ENABLE_RETRIES, .value.integer = 0},
        };
        grpc_channel_args channel_args = {.num_args = sizeof(args) / sizeof(args[0]), .args = args};
        char target[160];
        snprintf(target, sizeof(target), "unix:%s", path);
        grpc_channel_credentials *creds = grpc_insecure_credentials_create();
        grpc_channel *ch = grpc_channel_create(target, creds, &channel_args);
        grpc_channel_credentials_release(creds);
        return ch;
}

/* Starts one batch and waits for it. Returns whether it succeeded. */
static bool run_batch(grpc_call *call, grpc_completion_queue *cq, const grpc_op *ops, size_t n,
                      void *tag)
{
        if (grpc_call_start_batch(call, ops, n, tag, NULL) != GRPC_CALL_OK)
                return false;
        grpc_event ev =
            grpc_completion_queue_pluck(cq, tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        return ev.type == GRPC_OP_COMPLETE && ev.success;
}

int replay_call(grpc_channel *ch, grpc_completion_queue *cq, const char *method,
                const struct crisp_msg_list *requests, long timeout_ms, struct replay_answer *out)
{
        memset(out, 0, sizeof(*out));
        /* Distinct addresses as tags; pluck finds each by its own. */
        static char tag_status, tag_headers, tag_send, tag_close, tag_recv;

        gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_REALTIME),
                                             gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
        grpc_slice path = grpc_slice_from_copied_string(method);
        grpc_call *call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, path,
                                                   NULL, deadline, NULL);
        grpc_slice_unref(path);
        if (call == NULL)
                return -ENOMEM;

        grpc_metadata_array headers, trailers;
        grpc_metadata_array_init(&headers);
        grpc_metadata_array_init(&trailers);
        grpc_status_code status = GRPC_STATUS_UNKNOWN;
        grpc_slice details = grpc_empty_slice();
        int r = 0;

        grpc_op status_op = {0};
        status_op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
        status_op.data.recv_status_on_client.trailing_metadata = &trailers;
        status_op.data.recv_status_on_client.status = &status;
        status_op.data.recv_status_on_client.status_details = &details;
        grpc_op ops[2] = {{0}};
        ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
        ops[1].op = GRPC_OP_RECV_INITIAL_METADATA;
        ops[1].data.recv_initial_metadata.recv_initial_metadata = &headers;
        /* Only a bug here makes these fail; then nothing would complete, and
         * the waits below must not be reached. */
        bool status_started =
            grpc_call_start_batch(call, &status_op, 1, &tag_status, NULL) == GRPC_CALL_OK;
        if (!status_started ||
            grpc_call_start_batch(call, ops, 2, &tag_headers, NULL) != GRPC_CALL_OK) {
                grpc_call_cancel(call, NULL);
                if (status_started) /* its event must not be left for the next call */
                        grpc_completion_queue_pluck(cq, &tag_status,
                                                    gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
                grpc_slice_unref(details);
                grpc_call_unref(call);
                grpc_metadata_array_destroy(&headers);
                grpc_metadata_array_destroy(&trailers);
                return -EINVAL;
        }

        /* Requests, in order, then the half-close; a failed send means the
         * server has already answered, and its status says how. */
        bool sending = true;
        for (size_t i = 0; sending && i < requests->n; i++) {
                grpc_slice s = grpc_slice_from_copied_buffer((const char *)requests->items[i].data,
                                                             requests->items[i].len);
                grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
                grpc_slice_unref(s);
                grpc_op op = {0};
                op.op = GRPC_OP_SEND_MESSAGE;
                op.data.send_message.send_message = bb;
                sending = run_batch(call, cq, &op, 1, &tag_send);
                grpc_byte_buffer_destroy(bb);
        }
        if (sending) {
                grpc_op op = {0};
                op.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
                run_batch(call, cq, &op, 1, &tag_close);
        }
        grpc_completion_queue_pluck(cq, &tag_headers, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);

        for (;;) {
                grpc_byte_buffer *bb = NULL;
                grpc_op op = {0};
                op.op = GRPC_OP_RECV_MESSAGE;
                op.data.recv_message.recv_message = &bb;
                if (!run_batch(call, cq, &op, 1, &tag_recv) || bb == NULL)
                        break;
                grpc_byte_buffer_reader reader;
                grpc_slice all = grpc_empty_slice();
                if (grpc_byte_buffer_reader_init(&reader, bb)) {
                        all = grpc_byte_buffer_reader_readall(&reader);
                        grpc_byte_buffer_reader_destroy(&reader);
                }
                grpc_byte_buffer_destroy(bb);
                if (r == 0)
                        r = crisp_msg_list_append(&out->responses, GRPC_SLICE_START_PTR(all),
                                                  GRPC_SLICE_LENGTH(all));
                grpc_slice_unref(all);
        }
        grpc_completion_queue_pluck(cq, &tag_status, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);

        out->code = (int)status;
        out->details_len = GRPC_SLICE_LENGTH(details);
        out->details = malloc(out->details_len + 1);
        if (out->details == NULL) {
                r = -ENOMEM;
        } else {
                memcpy(out->details, GRPC_SLICE_START_PTR(details), out->details_len);
                out->details[out->details_len] = '\0';
        }
        grpc_slice_unref(details);
        grpc_metadata_array_destroy(&headers);
        grpc_metadata_array_destroy(&trailers);
        grpc_call_unref(call);
        if (r < 0)
                replay_answer_clear(out);
        return r;
}

void replay_answer_clear(struct replay_answer *a)
{
        crisp_msg_list_clear(&a->responses);
        free(a->details);
        a->details = NULL;
        a->details_len = 0;
}

const char *replay_code_name(int code)
{
        const char *name = crisp_status_code_name(code);
        return name ? name : "UNKNOWN_CODE";
}
