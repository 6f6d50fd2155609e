// Command gateway runs the devstack gateway (internal/proxy) with one route for the benchmark:
// plain, or with JWT auth and a (never reached) rate limit; with -tracing, with a server span per
// request (Options.Spans).
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"runtime/pprof"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/devstack-dev/devstack/internal/config"
	"github.com/devstack-dev/devstack/internal/event"
	"github.com/devstack-dev/devstack/internal/proxy"
)

func main() {
	port := flag.Int("port", 0, "HTTP port on 127.0.0.1")
	upstream := flag.String("upstream", "", "upstream host:port")
	auth := flag.Bool("auth", false, "require a JWT (scope bench) and apply a per-IP rate limit")
	state := flag.String("state", "", "state directory (issuer key)")
	tokenFile := flag.String("token-file", "", "write a valid token here and exit")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile here until exit")
	accessLog := flag.Bool("access-log", true, "publish access records to an event bus and log ring, as devstack up does")
	memProfile := flag.String("memprofile", "", "write an allocation profile here at exit")
	tracing := flag.Bool("tracing", false, "make a server span per request (the sink counts them, as cheap as a sink can be: what is measured is the gateway's cost)")
	connLifetime := flag.Duration("conn-lifetime", config.DefaultUpstreamConnLifetime.D(), "gateway.upstream_conn_lifetime (0: no limit)")
	flag.Parse()
	if *tokenFile != "" {
		tok, err := proxy.IssueToken(*state, "devstack", "devstack", "bench", []string{"bench"}, 24*time.Hour)
		if err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(*tokenFile, []byte(tok), 0o600); err != nil {
			log.Fatal(err)
		}
		return
	}
	route := proxy.Route{Path: "/", Service: "bench", Timeout: 30 * time.Second, MaxBody: 10 << 20}
	if *auth {
		route.Auth = "required"
		route.Scopes = []string{"bench"}
		route.RateLimit = &proxy.RateLimit{Requests: 1e7, Per: time.Second, Burst: 1e7, Key: "ip"}
	}
	// the access log goes to the bus and the log ring, as in `devstack up`
	opts := proxy.Options{}
	if *accessLog {
		opts.Bus, opts.Logs = event.NewBus("bench"), event.NewLogs(10000)
	}
	var spans atomic.Int64
	if *tracing {
		opts.Spans = func(b []event.Span) { spans.Add(int64(len(b))) }
	}
	// devstack's defaults (internal/config owns them; proxy.New defaults nothing)
	g, err := proxy.New(proxy.Config{Host: "127.0.0.1", HTTPPort: *port, HTTPSPort: -1, StateDir: *state, Routes: []proxy.Route{route},
		WaitReady: 30 * time.Second, UpstreamConnLifetime: *connLifetime, HeaderTimeout: 10 * time.Second, SendTimeout: time.Minute,
		Auth: proxy.Auth{Issuer: "devstack", Audience: "devstack", Leeway: 30 * time.Second, DevIssuer: proxy.DevIssuer{TokenTTL: time.Hour}}}, opts)
	if err != nil {
		log.Fatal(err)
	}
	g.SetUpstreams("bench", []proxy.Upstream{{ID: "bench-0", Addr: *upstream, Ready: true}})
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-g.Started()
		log.Printf("gateway listening on %s", g.Addr())
	}()
	if err := g.Run(ctx); err != nil {
		log.Print(err)
	}
	if *tracing {
		log.Printf("spans: %d", spans.Load())
	}
	if *memProfile != "" {
		f, err := os.Create(*memProfile)
		if err != nil {
			log.Fatal(err)
		}
		_ = pprof.Lookup("allocs").WriteTo(f, 0)
		f.Close()
	}
}
