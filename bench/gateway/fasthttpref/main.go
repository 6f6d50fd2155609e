// Command fasthttpref is a reference point for the gateway benchmark, not part of devstack: the
// smallest reverse proxy on github.com/valyala/fasthttp (server and HostClient, kept-alive upstream
// connections, X-Forwarded-For only; no routing, auth, limits, access log or metrics). It shows how
// much of the gateway's cost per request is net/http's server rather than the gateway's own work.
package main

import (
	"flag"
	"log"
	"net"
	"runtime"

	"github.com/valyala/fasthttp"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	upstream := flag.String("upstream", "", "upstream host:port")
	flag.Parse()
	hc := &fasthttp.HostClient{Addr: *upstream, MaxConns: 256}
	h := func(ctx *fasthttp.RequestCtx) {
		ctx.Request.Header.Set("X-Forwarded-For", ctx.RemoteIP().String())
		if err := hc.Do(&ctx.Request, &ctx.Response); err != nil {
			ctx.Error("bad gateway: "+err.Error(), fasthttp.StatusBadGateway)
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("fasthttp reference proxy on %s (GOMAXPROCS %d)", ln.Addr(), runtime.GOMAXPROCS(0))
	log.Fatal((&fasthttp.Server{Handler: h, Name: "ref"}).Serve(ln))
}
