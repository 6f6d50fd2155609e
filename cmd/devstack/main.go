// Command devstack runs a whole microservice platform — broker, database, gateway and your services —
// from one devstack.yaml.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/devstack-dev/devstack/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, stop, os.Args[1:])
	stop()
	os.Exit(code)
}
