package cli

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/devstack-dev/devstack/internal/control"
	"github.com/devstack-dev/devstack/internal/event"
)

func init() { register(newTracesCmd) }

// noTelemetryHint says what to do when the stack runs no OTLP receiver.
const noTelemetryHint = "set `telemetry: {enabled: true}` in devstack.yaml and restart `devstack up`"

func newTracesCmd(app *App) *cobra.Command {
	var (
		q      event.TraceQuery
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "traces",
		Short: "List the running stack's recent traces, newest first (show one with `devstack traces show ID`)",
		Example: "  devstack traces --service users --status error     # failed requests through users\n" +
			"  devstack traces --min-duration 200ms --limit 5      # the slow ones\n" +
			"  devstack traces show 4bf92f3577b34da6a3ce929d0e0e4736",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if q.Status != "" && q.Status != "error" && q.Status != "ok" {
				return fmt.Errorf("--status %q: want error or ok", q.Status)
			}
			if q.MinDuration < 0 || q.Limit < 0 {
				return errors.New("--min-duration and --limit cannot be negative")
			}
			c, err := app.Client()
			if err != nil {
				return err
			}
			ts, err := c.Traces(cmd.Context(), q)
			if err != nil {
				return traceErr(err)
			}
			if asJSON {
				if ts == nil {
					ts = []event.TraceSummary{}
				}
				return writeJSON(app, ts)
			}
			writeTraceList(app.Stdout, ts, q, painter{on: useColor(app.Stdout)})
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&q.Service, "service", "", "only traces with a span of this service (gateway and broker for devstack's own spans)")
	f.StringVar(&q.Status, "status", "", "error: only traces with a failed span; ok: only traces without")
	f.DurationVar(&q.MinDuration, "min-duration", 0, "only traces at least this long (e.g. 100ms)")
	f.IntVar(&q.Limit, "limit", 20, "at most this many traces (0: every trace kept)")
	f.BoolVar(&asJSON, "json", false, "print the traces as JSON")
	cmd.AddCommand(newTracesShowCmd(app))
	return cmd
}

func newTracesShowCmd(app *App) *cobra.Command {
	var asJSON, details bool
	cmd := &cobra.Command{
		Use:   "show TRACE_ID",
		Short: "Show one trace as a waterfall: its spans as a tree, with durations and a time line",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := strings.ToLower(strings.TrimSpace(args[0]))
			if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
				return fmt.Errorf("trace id %q: want 32 hex digits, as `devstack traces` lists them", args[0])
			}
			c, err := app.Client()
			if err != nil {
				return err
			}
			spans, err := c.Trace(cmd.Context(), id)
			if errors.Is(err, control.ErrNotFound) {
				return fmt.Errorf("trace %s is not kept by this stack (its spans have not arrived, or the store dropped them): `devstack traces` lists the ones kept", id)
			}
			if err != nil {
				return traceErr(err)
			}
			if asJSON {
				return writeJSON(app, spans)
			}
			writeWaterfall(app.Stdout, id, spans, details, painter{on: useColor(app.Stdout)})
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the trace's spans as JSON")
	cmd.Flags().BoolVarP(&details, "details", "d", false, "print each span's attributes, events and links under it")
	return cmd
}

func traceErr(err error) error {
	if errors.Is(err, control.ErrNoTelemetry) {
		return fmt.Errorf("%w: %s", err, noTelemetryHint)
	}
	return err
}

func writeTraceList(w io.Writer, ts []event.TraceSummary, q event.TraceQuery, p painter) {
	if len(ts) == 0 {
		if q.Service != "" || q.Status != "" || q.MinDuration > 0 {
			fmt.Fprintln(w, "no trace matches")
		} else {
			fmt.Fprintln(w, "no traces yet: they appear when a request goes through the gateway or a service sends spans")
		}
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TRACE ID\tSTARTED\tDURATION\tSPANS\tERRORS\tROOT\tSERVICES")
	for _, t := range ts {
		errs := "-"
		if t.Errors > 0 {
			errs = p.red(fmt.Sprint(t.Errors))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", t.TraceID, t.Start.Local().Format("15:04:05.000"), spanDur(t.Duration),
			t.Spans, errs, strings.TrimSpace(t.RootService+" "+t.RootName), strings.Join(t.Services, ","))
	}
	tw.Flush()
}

// barWidth is the width of the time line of `devstack traces show`.
const barWidth = 40

// writeWaterfall prints a trace's spans as a tree (event.Waterfall's order) with each span's offset
// from the trace's start, its duration and a bar on the trace's time line.
func writeWaterfall(w io.Writer, id string, spans []event.Span, details bool, p painter) {
	start, end := event.TraceBounds(spans)
	total := end.Sub(start)
	var svcs []string
	rows := event.Waterfall(spans)
	for _, r := range rows {
		if s := spans[r.Index].Service; !slices.Contains(svcs, s) {
			svcs = append(svcs, s)
		}
	}
	fmt.Fprintf(w, "trace %s  %s  %d span%s  started %s\n", id, spanDur(total), len(spans), brokerPlural(len(spans)), start.Local().Format("2006-01-02 15:04:05.000"))
	fmt.Fprintf(w, "services: %s\n\n", strings.Join(svcs, " → "))
	nameW := 4
	names := make([]string, len(rows))
	prefixes := make([]string, len(rows)) // indentation and mark, then the service
	for i, r := range rows {
		sp := spans[r.Index]
		mark := ""
		switch {
		case sp.Status == "error":
			mark = "✗ "
		case r.Orphan:
			mark = "? "
		}
		prefixes[i] = strings.Repeat("  ", min(r.Depth, 16)) + mark
		names[i] = prefixes[i] + sp.Service + " " + oneLineText(sp.Name)
		nameW = max(nameW, len([]rune(names[i])))
	}
	nameW = min(nameW, 70)
	fmt.Fprintf(w, "%-8s %8s  %s  %s\n", "OFFSET", "DURATION", padRunes("SPAN", nameW), "TIMELINE ("+spanDur(total)+")")
	orphans := false
	for i, r := range rows {
		sp := spans[r.Index]
		name := padRunes(names[i], nameW)
		bar := timeBar(sp, start, total, barWidth)
		switch {
		case sp.Status == "error":
			name, bar = p.red(name), p.red(bar)
		case strings.HasPrefix(name, prefixes[i]+sp.Service):
			name = prefixes[i] + p.source(sp.Service) + name[len(prefixes[i])+len(sp.Service):]
		}
		orphans = orphans || r.Orphan
		fmt.Fprintf(w, "%-8s %8s  %s  |%s|\n", "+"+spanDur(sp.Start.Sub(start)), spanDur(sp.Duration()), name, bar)
		if sp.Status == "error" && sp.StatusMessage != "" && !details {
			fmt.Fprintf(w, "%19s%s\n", "", p.red(strings.Repeat("  ", min(r.Depth, 16))+"  error: "+oneLineText(sp.StatusMessage)))
		}
		if details {
			writeSpanDetails(w, sp, start, strings.Repeat(" ", 19)+strings.Repeat("  ", min(r.Depth, 16))+"  ", p)
		}
	}
	if orphans {
		fmt.Fprintln(w, p.dim("\n? the span's parent was not received: it is shown at the root"))
	}
}

func writeSpanDetails(w io.Writer, sp event.Span, start time.Time, indent string, p painter) {
	line := func(s string) { fmt.Fprintln(w, indent+s) }
	head := "span " + sp.SpanID
	if sp.ParentID != "" {
		head += " parent " + sp.ParentID
	}
	if sp.Kind != "" {
		head += " kind " + sp.Kind
	}
	if sp.Instance != "" {
		head += " instance " + sp.Instance
	}
	line(p.dim(head))
	if sp.Status == "error" {
		line(p.red("error: " + oneLineText(sp.StatusMessage)))
	}
	for _, kv := range sortedAttrs(sp.Attrs) {
		line(kv)
	}
	for _, e := range sp.Events {
		line("event +" + spanDur(e.Time.Sub(start)) + " " + oneLineText(e.Name))
		for _, kv := range sortedAttrs(e.Attrs) {
			line("  " + kv)
		}
	}
	for _, l := range sp.Links {
		line("link trace " + l.TraceID + " span " + l.SpanID)
		for _, kv := range sortedAttrs(l.Attrs) {
			line("  " + kv)
		}
	}
}

func sortedAttrs(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, oneLineText(k)+"="+oneLineText(v))
	}
	sort.Strings(out)
	return out
}

// timeBar draws a span on a time line of width cells spanning total from start: at least one cell.
func timeBar(sp event.Span, start time.Time, total time.Duration, width int) string {
	from, n := event.BarCells(sp, start, total, width)
	return strings.Repeat(" ", from) + strings.Repeat("█", n) + strings.Repeat(" ", width-from-n)
}

// spanDur prints a span's duration: 0.30ms, 4.0ms, 48ms, 1.20s.
func spanDur(d time.Duration) string {
	if d <= 0 {
		return "0ms"
	}
	return event.ShortDuration(d)
}

func padRunes(s string, w int) string {
	r := []rune(s)
	if len(r) > w {
		return string(r[:w-1]) + "…"
	}
	return s + strings.Repeat(" ", w-len(r))
}

func oneLineText(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
