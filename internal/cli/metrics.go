package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	yaml "github.com/goccy/go-yaml"
	"github.com/spf13/cobra"

	"github.com/devstack-dev/devstack/internal/config"
	"github.com/devstack-dev/devstack/internal/control"
)

func init() { register(newMetricsCmd) }

// metricsPath is where the gateway serves the stack's Prometheus metrics.
const metricsPath = "/__devstack/metrics"

// metricsJob is the job name of the scrape config; the dashboard's stack variable reads the stack label
// every target of it carries.
const metricsJob = "devstack"

func newMetricsCmd(app *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "metrics",
		Short: "Write a Prometheus scrape config and a Grafana dashboard for the stack's metrics",
		Long: "The stack's metrics (broker, services, registry, PostgreSQL, gateway) are Prometheus text at the gateway's " +
			metricsPath + ". These commands write what a Prometheus and a Grafana need to show them.",
	}
	cmd.AddCommand(newMetricsPrometheusCmd(app), newMetricsGrafanaCmd(app))
	return cmd
}

func newMetricsPrometheusCmd(app *App) *cobra.Command {
	var out string
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "prometheus",
		Short: "Print a prometheus.yml that scrapes the stack (the running stack's gateway address, else devstack.yaml's)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if interval < time.Second {
				return fmt.Errorf("--interval %s: want at least 1s", interval)
			}
			name, target, err := metricsTarget(cmd.Context(), app)
			if err != nil {
				return err
			}
			b, err := prometheusConfig(name, target, interval)
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err = app.Stdout.Write(b)
				return err
			}
			if err := os.WriteFile(out, b, 0o644); err != nil {
				return fmt.Errorf("write the scrape config: %w", err)
			}
			fmt.Fprintf(app.Stderr, "wrote %s (scrapes http://%s%s); run: prometheus --config.file=%s\n", out, target, metricsPath, out)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "write the config to this file instead of stdout")
	cmd.Flags().DurationVar(&interval, "interval", 15*time.Second, "scrape interval")
	return cmd
}

// metricsTarget is the stack's name and the gateway's host:port: asked of the running stack, else read
// from devstack.yaml with a note on stderr (a stack started with --free-ports listens elsewhere).
func metricsTarget(ctx context.Context, app *App) (name, target string, err error) {
	ep, err := app.Endpoints(ctx)
	if err == nil {
		if ep.Gateway == "" {
			return "", "", fmt.Errorf("the stack %s (state in %s) has no gateway ready, and its metrics are served by the gateway at %s; see `devstack status` (without gateway.routes, set gateway.enabled: true in devstack.yaml)", ep.Name, ep.StateDir, metricsPath)
		}
		return ep.Name, scrapeAddr(ep.Gateway), nil
	}
	if !errors.Is(err, control.ErrNotRunning) {
		return "", "", err
	}
	cfg, cerr := app.Config()
	if cerr != nil {
		return "", "", fmt.Errorf("%w; and devstack.yaml cannot be read for the gateway's address: %v", err, cerr)
	}
	if !cfg.GatewayEnabled() {
		return "", "", fmt.Errorf("%s: the stack's metrics are served by the gateway at %s, and this stack runs none (no gateway.routes, or gateway.enabled: false); set gateway.enabled: true", cfg.Path, metricsPath)
	}
	target = configGatewayAddr(cfg)
	fmt.Fprintf(app.Stderr, "devstack: no stack runs for %s; the target is devstack.yaml's gateway address %s (a stack started with --free-ports listens elsewhere: run this again while it runs)\n", cfg.Dir, target)
	return cfg.Name, target, nil
}

// configGatewayAddr is the gateway's HTTP address as devstack.yaml sets it (defaults filled in by config).
func configGatewayAddr(cfg *config.Config) string {
	return scrapeAddr(net.JoinHostPort(cfg.Gateway.Host, strconv.Itoa(cfg.Gateway.HTTPPort)))
}

// scrapeAddr turns a listen address into one a Prometheus on this machine reaches: an unspecified host
// (0.0.0.0, ::, none) becomes 127.0.0.1.
func scrapeAddr(hostport string) string {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// The prometheus.yml types, in the order Prometheus' documentation writes the fields.
type promConfig struct {
	Global        promGlobal     `yaml:"global"`
	ScrapeConfigs []scrapeConfig `yaml:"scrape_configs"`
}

type promGlobal struct {
	ScrapeInterval string `yaml:"scrape_interval"`
}

type scrapeConfig struct {
	JobName       string         `yaml:"job_name"`
	MetricsPath   string         `yaml:"metrics_path"`
	HonorLabels   bool           `yaml:"honor_labels"`
	ScrapeTimeout string         `yaml:"scrape_timeout"`
	StaticConfigs []staticConfig `yaml:"static_configs"`
}

type staticConfig struct {
	Targets []string          `yaml:"targets"`
	Labels  map[string]string `yaml:"labels"`
}

// prometheusConfig is a whole prometheus.yml scraping the gateway at target every interval; each series
// carries stack=name, which the Grafana dashboard filters by.
func prometheusConfig(name, target string, interval time.Duration) ([]byte, error) {
	timeout := min(interval, 10*time.Second)
	c := promConfig{
		Global: promGlobal{ScrapeInterval: promDuration(interval)},
		ScrapeConfigs: []scrapeConfig{{
			JobName:       metricsJob,
			MetricsPath:   metricsPath,
			HonorLabels:   true, // the services' OTLP series carry their own instance label
			ScrapeTimeout: promDuration(timeout),
			StaticConfigs: []staticConfig{{Targets: []string{target}, Labels: map[string]string{"stack": name}}},
		}},
	}
	b, err := yaml.MarshalWithOptions(c, yaml.IndentSequence(true))
	if err != nil {
		return nil, fmt.Errorf("encode the scrape config: %w", err)
	}
	head := fmt.Sprintf("# Prometheus scrape config for the devstack stack %q, written by `devstack metrics prometheus`.\n"+
		"# The stack's metrics (docs/metrics.md) are at its gateway's %s.\n", name, metricsPath)
	return append([]byte(head), b...), nil
}

// promDuration writes d the way Prometheus reads durations (whole seconds, ms below one).
func promDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

func newMetricsGrafanaCmd(app *App) *cobra.Command {
	var out, promURL, dashPath string
	cmd := &cobra.Command{
		Use:   "grafana",
		Short: "Write Grafana provisioning files: a Prometheus datasource, a dashboard provider and the stack's dashboard",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			files, err := grafanaFiles(out, promURL, dashPath)
			if err != nil {
				return err
			}
			for _, f := range files {
				if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
					return fmt.Errorf("write the Grafana files: %w", err)
				}
				if err := os.WriteFile(f.path, f.data, 0o644); err != nil {
					return fmt.Errorf("write the Grafana files: %w", err)
				}
				fmt.Fprintln(app.Stdout, f.path)
			}
			fmt.Fprintf(app.Stderr, "point Grafana's paths.provisioning (GF_PATHS_PROVISIONING) at %s\n", filepath.Join(out, "provisioning"))
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "grafana", "directory to write provisioning/ and dashboards/ into")
	cmd.Flags().StringVar(&promURL, "prometheus-url", "http://127.0.0.1:9090", "the Prometheus the datasource queries")
	cmd.Flags().StringVar(&dashPath, "dashboards-path", "", "where Grafana reads the dashboard JSON (default: OUT/dashboards as an absolute path; set it when Grafana sees the files elsewhere, e.g. in a container)")
	return cmd
}
