package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/devstack-dev/devstack/internal/broker"
	"github.com/devstack-dev/devstack/internal/event"
)

func init() { register(newTopicsCmd) }

// brokerFlags is --brokers, shared by the commands that talk to Kafka directly.
type brokerFlags struct{ brokers string }

func (f *brokerFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.brokers, "brokers", "", "bootstrap host:port list (default: the broker of the stack running for this devstack.yaml)")
}

// addrs returns the bootstrap addresses: --brokers, else those the stack of this directory reports
// through its control API (never another checkout's broker on the configured port).
func (f *brokerFlags) addrs(ctx context.Context, app *App) ([]string, error) {
	if f.brokers != "" {
		var out []string
		for _, a := range strings.Split(f.brokers, ",") {
			if a = strings.TrimSpace(a); a != "" {
				out = append(out, a)
			}
		}
		if len(out) == 0 {
			return nil, errors.New("--brokers is empty")
		}
		return out, nil
	}
	ep, err := app.endpointsOr(ctx, "--brokers host:port")
	if err != nil {
		return nil, err
	}
	if len(ep.Brokers) == 0 {
		return nil, fmt.Errorf("the stack %s (state in %s) runs no broker (broker.enabled: false, or it is not ready yet); pass --brokers host:port to reach another one", ep.Name, ep.StateDir)
	}
	return ep.Brokers, nil
}

// admin connects to the broker and checks that it answers.
func (f *brokerFlags) admin(ctx context.Context, app *App) (*broker.Admin, error) {
	addrs, sec, external, err := f.brokerTarget(ctx, app)
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.DiscardHandler)
	if app.Verbose {
		log = app.Logger()
	}
	a, err := broker.NewSecureAdmin(addrs, sec, log)
	if err != nil {
		return nil, err
	}
	if err := a.Ping(ctx); err != nil {
		a.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if app.Verbose {
			app.Logger().Debug("ping broker", "err", err)
		}
		if external {
			return nil, fmt.Errorf("the external broker at %s (broker.external in %s) does not answer: %v; check bootstrap_servers, sasl and tls", strings.Join(addrs, ","), app.ConfigPath, err)
		}
		return nil, fmt.Errorf("no broker at %s: is `devstack up` running?", strings.Join(addrs, ","))
	}
	return a, nil
}

func newTopicsCmd(app *App) *cobra.Command {
	var (
		bf       brokerFlags
		asJSON   bool
		internal bool
		window   time.Duration
	)
	cmd := &cobra.Command{
		Use:   "topics",
		Short: "List the broker's topics: partitions, end offsets, messages, msgs/s",
		Long: "List the topics of the stack's broker (or any Kafka with --brokers).\n\n" +
			"Rates come from two samples --rate-window apart (0 skips them): IN is records produced per\n" +
			"second, OUT is records committed by consumer groups per second.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			a, err := bf.admin(ctx, app)
			if err != nil {
				return err
			}
			defer a.Close()
			ts, err := a.Topics(ctx)
			if err != nil {
				return err
			}
			if window > 0 {
				select {
				case <-time.After(window):
				case <-ctx.Done():
					return ctx.Err()
				}
				if ts, err = a.Topics(ctx); err != nil {
					return err
				}
			}
			if !internal {
				kept := ts[:0]
				for _, t := range ts {
					if !t.Internal && !strings.HasPrefix(t.Name, "__") {
						kept = append(kept, t)
					}
				}
				ts = kept
			}
			if asJSON {
				return writeJSON(app, ts)
			}
			writeTopics(app, ts, window > 0)
			return nil
		},
	}
	bf.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print topics as JSON")
	cmd.Flags().BoolVar(&internal, "internal", false, "include internal topics (__consumer_offsets, ...)")
	cmd.Flags().DurationVar(&window, "rate-window", time.Second, "time between the two samples msgs/s is computed from (0: no rates)")
	return cmd
}

func writeTopics(app *App, ts []event.TopicInfo, rates bool) {
	if len(ts) == 0 {
		fmt.Fprintln(app.Stdout, "no topics")
		return
	}
	tw := tabwriter.NewWriter(app.Stdout, 0, 4, 2, ' ', 0)
	header := "TOPIC\tPARTITIONS\tEND OFFSETS\tMESSAGES"
	if rates {
		header += "\tIN MSG/S\tOUT MSG/S"
	}
	fmt.Fprintln(tw, header)
	for _, t := range ts {
		ends := make([]string, 0, len(t.Partitions))
		for i, p := range t.Partitions {
			if i == 8 {
				ends = append(ends, fmt.Sprintf("…(+%d)", len(t.Partitions)-8))
				break
			}
			ends = append(ends, strconv.FormatInt(p.EndOffset, 10))
		}
		line := fmt.Sprintf("%s\t%d\t%s\t%d", t.Name, len(t.Partitions), strings.Join(ends, ","), t.Messages)
		if rates {
			line += fmt.Sprintf("\t%s\t%s", fmtMsgRate(t.RateIn), fmtMsgRate(t.RateOut))
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
}

func fmtMsgRate(r float64) string {
	switch {
	case r == 0:
		return "0"
	case r < 10:
		return strconv.FormatFloat(r, 'f', 1, 64)
	default:
		return strconv.FormatFloat(r, 'f', 0, 64)
	}
}
