// Command brokerd runs devstack's embedded broker (internal/broker) alone as its own process, so the
// real-client tests can stop it with SIGTERM or SIGKILL and start it again on the same data directory.
// The tests prefer the real `devstack up --no-tui`; brokerd is the fallback while that is unavailable.
//
// It prints "ready <host:port>" on stdout once clients can connect, and on SIGTERM or SIGINT closes the
// broker cleanly and exits 0 (1 if the clean close failed).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/devstack-dev/devstack/internal/broker"
)

func main() {
	os.Exit(run())
}

func run() int {
	var o broker.Options
	flag.StringVar(&o.Host, "host", broker.DefaultHost, "listen address")
	flag.IntVar(&o.Port, "port", 9092, "listen port (0: any free port)")
	flag.StringVar(&o.DataDir, "data-dir", "", "directory that keeps topics, records and offsets across restarts (empty: in memory)")
	flag.BoolVar(&o.AutoCreate, "auto-create", true, "create unknown topics on first use")
	flag.IntVar(&o.DefaultPartitions, "default-partitions", 1, "partitions of auto-created topics")
	verbose := flag.Bool("v", false, "debug logging")
	flag.Parse()

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	b, err := broker.Start(ctx, o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "brokerd: start broker on %s:%d (data dir %q): %v\n", o.Host, o.Port, o.DataDir, err)
		return 1
	}
	fmt.Printf("ready %s\n", b.Addr())
	<-ctx.Done()
	if err := b.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "brokerd: close broker: %v\n", err)
		return 1
	}
	return 0
}
