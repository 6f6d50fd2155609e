package cli

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/devstack-dev/devstack/internal/config"
	"github.com/devstack-dev/devstack/internal/containers"
	"github.com/devstack-dev/devstack/internal/stack"
)

// containerInfra is the --containers infrastructure: real Kafka and PostgreSQL in Docker. It asks the
// Docker engine first, so a missing engine is one line before anything starts, not a failed broker.
func containerInfra(ctx context.Context, cfg *config.Config, logger *slog.Logger) (stack.Infra, error) {
	if err := containers.Available(ctx); err != nil {
		return nil, fmt.Errorf("--containers: %w", err)
	}
	return stack.Containers{
		Stack:         cfg.Name,
		KafkaImage:    cfg.Broker.Image,
		PostgresImage: cfg.Postgres.Image,
		Logger:        logger.With("component", "containers"),
	}, nil
}
