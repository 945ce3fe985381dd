"""A CRI client in a process of its own, so a test can SIGKILL it in the
middle of a call.

    client_proc.py SOCKET METHOD unary|stream

unary: one unary call with a far deadline; prints "started".
stream: a bidirectional stream; sends one message, prints "echo" once the
runtime's echo of it came back (the stream is in progress), then keeps the
stream open.
Either way it then waits to be killed (bounded: it exits after an hour).
"""

import queue
import sys
import threading

import grpc

FAR_DEADLINE_S = 3600


def main(argv):
    socket_path, method, shape = argv[1], argv[2], argv[3]
    channel = grpc.insecure_channel("unix:" + socket_path,
                                    options=[("grpc.use_local_subchannel_pool", 1)])
    if shape == "unary":
        future = channel.unary_unary(method).future(b"from-client", timeout=FAR_DEADLINE_S)
        print("started", flush=True)
        future.exception(timeout=FAR_DEADLINE_S)
    elif shape == "stream":
        outbox = queue.Queue()

        def requests():
            while True:
                item = outbox.get()
                if item is None:
                    return
                yield item

        responses = channel.stream_stream(method)(requests(), timeout=FAR_DEADLINE_S)
        outbox.put(b"first")
        if next(responses) != b"first":
            sys.exit("client_proc: wrong echo")
        print("echo", flush=True)
        threading.Event().wait(FAR_DEADLINE_S)  # hold the stream open until killed
    else:
        sys.exit("client_proc: unknown shape " + shape)


if __name__ == "__main__":
    main(sys.argv)
