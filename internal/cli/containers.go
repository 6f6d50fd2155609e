package cli

import (
	"log/slog"

	"github.com/devstack-dev/devstack/internal/stack"
)

// containerInfra is the --containers infrastructure: real Kafka and PostgreSQL in Docker.
func containerInfra(name string, logger *slog.Logger) stack.Infra {
	return stack.Containers{Stack: name, Logger: logger.With("component", "containers")}
}
