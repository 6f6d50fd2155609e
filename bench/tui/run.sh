#!/usr/bin/env bash
# TUI under load: the real bubbletea program (standard renderer, output discarded) on the fixture
# stack while a producer writes 5k log lines/s into the stack's log ring and 10k records/s into a
# live topic tap; then the Traces view on a real stack while 5k spans/s arrive over OTLP. Prints a
# Markdown section; docs/benchmarks/tui.md is its committed output.
# Usage: bench/tui/run.sh [seconds per view, default 10]
set -euo pipefail
cd "$(dirname "$0")/../.."
secs="${1:-10}"
out="$(mktemp)"
tout="$(mktemp)"
trap 'rm -f "$out" "$tout"' EXIT

DEVSTACK_TUI_LOAD="$secs" DEVSTACK_TUI_LOAD_OUT="$out" \
  timeout $((secs * 4 * 3 + 120)) go test ./internal/tui -run '^TestLoad$' -count=1 >/dev/null
DEVSTACK_TUI_TRACES_LOAD="$secs" DEVSTACK_TUI_TRACES_LOAD_OUT="$tout" \
  timeout $((secs * 3 * 3 + 120)) go test ./internal/tui -run '^TestTracesLoad$' -count=1 >/dev/null
micro="$(timeout 300 go test ./internal/tui -run '^$' -bench 'BenchmarkLogs' -benchmem -benchtime=2s -count=1 | grep '^Benchmark')"

cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
cat <<MD
## TUI under load

Machine: ${cpu:-unknown CPU}, $(nproc) cores visible (shared with other jobs), $(go version | cut -d' ' -f3), $(uname -sr).
Date: $(date -u +%Y-%m-%dT%H:%MZ). Run: \`bench/tui/run.sh ${secs}\` (${secs} s per view, terminal 120x40).

Each row runs the real program for ${secs} s with the named view on screen while 5,000 log lines/s flow
through the stack's log ring and 10,000 records/s flow through the tap of the topic being tailed (the
tap is open only in the Messages row, as in use). *received* is the share of what was sent that reached
the model (a subscriber that falls behind is dropped and resubscribes, so less than 100% would mean
lost lines). *key wait* is how long a message sent to the program every 50 ms waited for the event
loop: what a key press waits. Heap is measured after a GC before the run, sampled each second
(peak), and after the run with the model and its full ring buffers (10k lines, 2k records) alive.

$(cat "$out")

### Traces view at 5,000 spans/s

Each row starts a real stack with only its OTLP receiver (\`telemetry: {max_spans: 20000}\`, so the
store is full after a few seconds and evicts the oldest traces) and runs the real program on it, the
stack itself as the controller as \`devstack up\` does, for ${secs} s with the named view on screen, while
the stock OpenTelemetry Go SDK (batching exporter, OTLP/HTTP protobuf) sends 5,000 spans/s: traces of ten
spans across four services, one in a hundred failing. The view polls the store once a second (the list
asks for at most 500 traces; the waterfall for its trace), so Update runs about twice a second whatever
the span rate. Heap and RSS are the whole process's (stack, receiver, store, SDK and UI): *before* is
taken 2–3 s into the feed (the store not full yet), *mid* halfway through the row and *after* at its
end: with the store bounded, *mid* and *after* stay close.

$(cat "$tout")

Load average right after these rows: $(cut -d' ' -f1-3 /proc/loadavg) (on $(nproc) cores), so the max columns
and the key-wait tail carry scheduling noise from other jobs.

Micro-benchmarks (\`go test ./internal/tui -bench BenchmarkLogs -benchmem\`): one Update carrying a
batch of 256 lines into a full 10k ring, and one render of the Logs view at 120x40 over a full ring.

\`\`\`
${micro}
\`\`\`
MD
