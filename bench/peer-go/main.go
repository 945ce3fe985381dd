// peer-go: the benchmark's Go baseline, a pass-through gRPC proxy on
// grpc-go (Debian's golang-google-grpc-dev) that relays any method as raw
// bytes, as a Go CRI proxy written the usual way would: one server stream
// handler for every method, one client stream to the runtime, messages never
// decoded. It is a yardstick for crisp, not something to deploy.
//
// Build: GO111MODULE=off GOPATH=/usr/share/gocode go build -o peer-go ./bench/peer-go
package main

import (
	"context"
	"flag"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// frame holds one message's bytes; the codec below never looks inside.
type frame struct{ data []byte }

// rawCodec hands message bytes through unchanged. Its name is "proto" so that
// the content-type on the wire stays what the kubelet and runtime expect.
type rawCodec struct{}

func (rawCodec) Marshal(v interface{}) ([]byte, error) { return v.(*frame).data, nil }
func (rawCodec) Unmarshal(data []byte, v interface{}) error {
	f := v.(*frame)
	f.data = append(f.data[:0], data...)
	return nil
}
func (rawCodec) Name() string   { return "proto" }
func (rawCodec) String() string { return "proto" }

const maxMessage = 16 << 20

type proxy struct{ upstream *grpc.ClientConn }

// relay serves every method: it opens the same method on the runtime, copies
// request metadata, messages both ways, response headers, trailers and status.
func (p *proxy) relay(_ interface{}, down grpc.ServerStream) error {
	method, _ := grpc.MethodFromServerStream(down)
	md, _ := metadata.FromIncomingContext(down.Context())
	ctx, cancel := context.WithCancel(metadata.NewOutgoingContext(down.Context(), md.Copy()))
	defer cancel()
	desc := &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}
	up, err := p.upstream.NewStream(ctx, desc, method, grpc.ForceCodec(rawCodec{}))
	if err != nil {
		return err
	}
	// client -> runtime
	c2p := make(chan error, 1)
	go func() {
		for {
			f := &frame{}
			if err := down.RecvMsg(f); err != nil {
				if err == io.EOF {
					c2p <- up.CloseSend()
				} else {
					c2p <- err
				}
				return
			}
			if err := up.SendMsg(f); err != nil {
				c2p <- nil // the runtime's side ended: its status says why
				return
			}
		}
	}()
	// runtime -> client
	headersSent := false
	for {
		f := &frame{}
		err := up.RecvMsg(f)
		if !headersSent {
			if h, herr := up.Header(); herr == nil {
				down.SetHeader(h)
			}
			headersSent = true
		}
		if err == io.EOF {
			down.SetTrailer(up.Trailer())
			return nil
		}
		if err != nil {
			down.SetTrailer(up.Trailer())
			return err // a status error from the runtime passes on as it is
		}
		if err := down.SendMsg(f); err != nil {
			return err
		}
	}
}

func main() {
	listen := flag.String("listen", "", "unix socket to serve on")
	upstream := flag.String("upstream", "", "the runtime's unix socket")
	flag.Parse()
	if *listen == "" || *upstream == "" {
		log.Fatal("usage: peer-go --listen PATH --upstream PATH")
	}
	conn, err := grpc.Dial("unix://"+*upstream, grpc.WithInsecure(),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessage),
			grpc.MaxCallSendMsgSize(maxMessage)))
	if err != nil {
		log.Fatal(err)
	}
	p := &proxy{upstream: conn}
	srv := grpc.NewServer(grpc.CustomCodec(rawCodec{}), grpc.UnknownServiceHandler(p.relay),
		grpc.MaxRecvMsgSize(maxMessage), grpc.MaxSendMsgSize(maxMessage))
	os.Remove(*listen)
	l, err := net.Listen("unix", *listen)
	if err != nil {
		log.Fatal(err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-sig; srv.Stop() }()
	if err := srv.Serve(l); err != nil {
		log.Fatal(err)
	}
}
