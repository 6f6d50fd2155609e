//go:build !windows

// Command devstack runs a whole microservice platform — broker, database, gateway and your services —
// from one devstack.yaml.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/devstack-dev/devstack/internal/cli"
	"github.com/devstack-dev/devstack/internal/supervisor"
)

func main() {
	// When devstack re-executes itself as the per-instance shim that guarantees no service process
	// outlives it, this runs the shim and never returns.
	supervisor.MaybeRunShim()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, stop, os.Args[1:])
	stop()
	os.Exit(code)
}
