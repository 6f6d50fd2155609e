package tui

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/muesli/termenv"

	"github.com/devstack-dev/devstack/internal/control"
	"github.com/devstack-dev/devstack/internal/event"
)

// loadCtrl is the fixture stack whose "orders.placed" tap is fed by a producer goroutine at a fixed
// rate (dropping the tap, as a real one does, when the UI falls behind).
type loadCtrl struct {
	*fakeCtrl
	taps chan chan event.Message
}

func (l *loadCtrl) Messages(ctx context.Context, q control.MessageQuery) (<-chan event.Message, error) {
	ch := make(chan event.Message, 4096)
	select {
	case l.taps <- ch:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return ch, nil
}

// instrumented wraps the model to time Update and View and to measure how long a message waits
// for the event loop (what a key press would wait).
type instrumented struct {
	m                  *Model
	updates, views     int64
	updateNs, viewNs   int64
	maxUpdate, maxView time.Duration
	probes             []time.Duration
	linesAtMark        uint64
	recsAtMark         uint64
}

type probeMsg struct{ sent time.Time }

// countMsg asks the event loop how many lines and records the model has received.
type countMsg struct{ reply chan [2]uint64 }

// markMsg records, on the event loop, how much the model had received when measuring began.
type markMsg struct{}

func (i *instrumented) Init() tea.Cmd { return i.m.Init() }

func (i *instrumented) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if _, ok := msg.(markMsg); ok {
		i.linesAtMark, i.recsAtMark = i.m.logs.ring.total, i.m.rec.ring.total
		i.updates, i.views, i.updateNs, i.viewNs, i.maxUpdate, i.maxView = 0, 0, 0, 0, 0, 0
		return i, nil
	}
	if c, ok := msg.(countMsg); ok {
		c.reply <- [2]uint64{i.m.logs.ring.total, i.m.rec.ring.total}
		return i, nil
	}
	if p, ok := msg.(probeMsg); ok {
		i.probes = append(i.probes, time.Since(p.sent))
		return i, nil
	}
	t0 := time.Now()
	_, cmd := i.m.Update(msg)
	d := time.Since(t0)
	i.updates++
	i.updateNs += int64(d)
	i.maxUpdate = max(i.maxUpdate, d)
	return i, cmd
}

func (i *instrumented) View() string {
	t0 := time.Now()
	s := i.m.View()
	d := time.Since(t0)
	i.views++
	i.viewNs += int64(d)
	i.maxView = max(i.maxView, d)
	return s
}

func heapMiB() float64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapAlloc) / (1 << 20)
}

type loadResult struct {
	view                  string
	seconds               float64
	linesSent, recsSent   int64
	linesSeen, recsSeen   uint64
	resubLogs, reopenTaps int
	loopStats
	heapBefore, heapAfter, heapPeak float64
}

// loopStats is how busy the event loop was while measuring: Update and View calls and times, and how
// long a key press waited.
type loopStats struct {
	updates, views               int64
	updateAvg, viewAvg           time.Duration
	maxUpdate, maxView           time.Duration
	probeP50, probeP99, probeMax time.Duration
}

// stats is what the wrapper measured since markMsg; read it once the program has ended.
func (i *instrumented) stats() loopStats {
	s := loopStats{updates: i.updates, views: i.views, maxUpdate: i.maxUpdate, maxView: i.maxView}
	if i.updates > 0 {
		s.updateAvg = time.Duration(i.updateNs / i.updates)
	}
	if i.views > 0 {
		s.viewAvg = time.Duration(i.viewNs / i.views)
	}
	pr := slices.Clone(i.probes)
	slices.Sort(pr)
	if len(pr) > 0 {
		s.probeP50, s.probeP99, s.probeMax = pr[len(pr)/2], pr[len(pr)*99/100], pr[len(pr)-1]
	}
	return s
}

// startInstrumented runs the real program (standard renderer, output discarded) on ctrl at 120x40;
// done receives what Run returns.
func startInstrumented(ctrl control.Controller) (m *Model, in *instrumented, p *tea.Program, done chan error) {
	ansi := termenv.ANSI
	m = newModel(context.Background(), ctrl, Options{}, config{profile: &ansi, now: time.Now, loc: time.UTC})
	in = &instrumented{m: m}
	p = tea.NewProgram(in, tea.WithInput(nil), tea.WithOutput(io.Discard), tea.WithoutSignals())
	done = make(chan error, 1)
	go func() { _, err := p.Run(); done <- err }()
	p.Send(tea.WindowSizeMsg{Width: 120, Height: 40})
	return m, in, p, done
}

// typeKeys sends keys to p: '\r' is enter, '\t' tab, '~' waits settle (for fetches or a refresh to land).
func typeKeys(p *tea.Program, keys string, settle time.Duration) {
	for _, r := range keys {
		switch r {
		case '\r':
			p.Send(tea.KeyMsg{Type: tea.KeyEnter})
		case '\t':
			p.Send(tea.KeyMsg{Type: tea.KeyTab})
		case '~':
			time.Sleep(settle)
		default:
			p.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
		}
	}
}

// probe sends p a probeMsg every 50ms until ctx ends: how long would a key press wait?
func probe(ctx context.Context, p *tea.Program) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			p.Send(probeMsg{sent: time.Now()})
		}
	}
}

// runLoad runs the real program (standard renderer, output discarded) on view for d while a
// producer writes lps log lines/s into the stack's log ring and mps records/s into the tap.
func runLoad(t testing.TB, view string, keys string, d time.Duration, lps, mps int) loadResult {
	f := fixture()
	lc := &loadCtrl{fakeCtrl: f, taps: make(chan chan event.Message, 16)}
	m, in, p, done := startInstrumented(lc)
	typeKeys(p, keys, 300*time.Millisecond) // '~': give fetches time to land (the topic list before enter)
	time.Sleep(300 * time.Millisecond)      // let the first fetches land before measuring
	res := loadResult{view: view, heapBefore: heapMiB()}
	p.Send(markMsg{})

	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var linesSent, recsSent atomic.Int64
	go func() { // records: one tap at a time, replaced when the UI reopens it
		var tap chan event.Message
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		var off int64
		t0 := time.Now()
		payload := []byte(`{"orderId":1042,"userId":"u-7","items":[{"sku":"A-1","qty":2}],"total":54.5}`)
		for {
			select {
			case <-ctx.Done():
				return
			case nt := <-lc.taps:
				if tap != nil {
					close(tap)
				}
				tap = nt
			case <-tick.C:
				if tap == nil {
					continue
				}
				for int64(time.Since(t0).Seconds()*float64(mps)) > off {
					off++
					rec := event.Message{Topic: "orders.placed", Partition: int32(off % 3), Offset: off, Timestamp: time.Now(), Key: []byte("u-7"), Value: payload}
					select {
					case tap <- rec:
						recsSent.Add(1)
					default: // the UI fell behind: drop the tap like the broker's tap does
						close(tap)
						tap = nil
					}
					if tap == nil {
						break
					}
				}
			}
		}
	}()
	go func() { // logs through the real event.Logs ring and its subscriber channels
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		n := 0
		srcs := []string{"users", "scorer", "analytics", "gateway"}
		t0 := time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				for int(time.Since(t0).Seconds()*float64(lps)) > n {
					n++
					f.logs.Append(event.LogLine{Source: srcs[n%4], Stream: "stdout", Text: "[Nest] 4242  - LOG [OrdersService] order " + strconv.Itoa(n) + " placed by u-7 (3 items)"})
					linesSent.Add(1)
				}
			}
		}
	}()
	go probe(ctx, p)
	start := time.Now()
	peak := 0.0
	sample := time.NewTicker(time.Second)
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-sample.C:
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peak = max(peak, float64(ms.HeapAlloc)/(1<<20))
		}
	}
	sample.Stop()
	res.seconds = time.Since(start).Seconds()
	// the producers have stopped: let what is in flight arrive, then stop the program
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := make(chan [2]uint64, 1)
		p.Send(countMsg{reply: got})
		c := <-got
		if (c[0]-in.linesAtMark >= uint64(linesSent.Load()) && c[1]-in.recsAtMark >= uint64(recsSent.Load())) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.Quit()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	m.cancel() // as Run does: end the model's streams
	res.linesSent, res.recsSent = linesSent.Load(), recsSent.Load()
	res.linesSeen, res.recsSeen = m.logs.ring.total-in.linesAtMark, m.rec.ring.total-in.recsAtMark
	res.resubLogs, res.reopenTaps = m.logs.gen-1, m.rec.gen-1
	res.loopStats = in.stats()
	res.heapPeak = peak
	// the ring buffers are full now; measure with the model still referenced
	res.heapAfter = heapMiB()
	runtime.KeepAlive(m)
	return res
}

func us(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e3, 'f', 1, 64) }
func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 2, 64) }

// TestLoad is the benchmark behind docs/benchmarks/tui.md: bench/tui/run.sh runs it with
// DEVSTACK_TUI_LOAD=seconds and writes the table it prints. Skipped otherwise (it takes a while).
func TestLoad(t *testing.T) {
	secs, _ := strconv.Atoi(os.Getenv("DEVSTACK_TUI_LOAD"))
	if secs <= 0 {
		t.Skip("load benchmark: set DEVSTACK_TUI_LOAD=<seconds per view> (bench/tui/run.sh does)")
	}
	d := time.Duration(secs) * time.Second
	var rows []loadResult
	for _, sc := range []struct{ view, keys string }{
		{"Messages (live tail)", "3~\r"},
		{"Logs (following all)", "2"},
		{"Logs (regex filter)", "2/tab"},
		{"Services", ""},
	} {
		keys := sc.keys
		if sc.view == "Logs (regex filter)" {
			keys = "2"
		}
		r := func() loadResult {
			if sc.view == "Logs (regex filter)" {
				return runLoad(t, sc.view, keys+"/\torder [0-9]*5 placed\r", d, 5000, 10000)
			}
			return runLoad(t, sc.view, keys, d, 5000, 10000)
		}()
		rows = append(rows, r)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| view shown | seconds | log lines/s sent | received | records/s sent | received | Update calls/s | Update avg µs (max ms) | View calls/s | View avg µs (max ms) | key wait p50 / p99 / max ms | heap MiB before → peak → after |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %.0f | %.0f | %s | %.0f | %s | %.0f | %s (%s) | %.0f | %s (%s) | %s / %s / %s | %.1f → %.1f → %.1f |\n",
			r.view, r.seconds, float64(r.linesSent)/r.seconds, pct(r.linesSeen, r.linesSent), float64(r.recsSent)/r.seconds, pct(r.recsSeen, r.recsSent),
			float64(r.updates)/r.seconds, us(r.updateAvg), ms(r.maxUpdate), float64(r.views)/r.seconds, us(r.viewAvg), ms(r.maxView),
			ms(r.probeP50), ms(r.probeP99), ms(r.probeMax), r.heapBefore, r.heapPeak, r.heapAfter)
	}
	fmt.Fprintf(&b, "\nStreams dropped and resumed (the bus closes a subscriber that falls behind): ")
	for i, r := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s: logs %d, tap %d", r.view, r.resubLogs, max(r.reopenTaps-1, 0))
	}
	b.WriteString(".\n")
	if out := os.Getenv("DEVSTACK_TUI_LOAD_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Log("\n" + b.String())
	for _, r := range rows {
		if r.linesSeen == 0 || (strings.HasPrefix(r.view, "Messages") && r.recsSeen == 0) {
			t.Errorf("%s: the UI received nothing (lines %d records %d)", r.view, r.linesSeen, r.recsSeen)
		}
		if r.heapAfter > r.heapBefore+64 {
			t.Errorf("%s: heap grew from %.1f to %.1f MiB", r.view, r.heapBefore, r.heapAfter)
		}
	}
}

// BenchmarkLogsBatch is the cost of one Update carrying a batch of 256 log lines into a full ring.
func BenchmarkLogsBatch(b *testing.B) {
	f := newFake("x")
	ansi := termenv.ANSI
	m := newModel(context.Background(), f, Options{}, config{profile: &ansi, now: time.Now, loc: time.UTC})
	m.Init()
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	m.tab = tabLogs
	batch := make([]event.LogLine, 256)
	var seq uint64
	b.ReportAllocs()
	for b.Loop() {
		for i := range batch {
			seq++
			batch[i] = event.LogLine{Seq: seq, Source: "users", Text: "order " + strconv.FormatUint(seq, 10) + " placed"}
		}
		m.Update(logsMsg{gen: m.logs.gen, lines: batch})
	}
}

// BenchmarkLogsView is the cost of rendering the Logs view at 120x40 over a full 10k ring.
func BenchmarkLogsView(b *testing.B) {
	f := newFake("x")
	ansi := termenv.ANSI
	m := newModel(context.Background(), f, Options{}, config{profile: &ansi, now: time.Now, loc: time.UTC})
	m.Init()
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	m.tab = tabLogs
	m.Update(logsMsg{gen: m.logs.gen, lines: logLines(defaultLogCap, "users")})
	b.ReportAllocs()
	for b.Loop() {
		m.dirty = true
		_ = m.View()
	}
}

func pct(got uint64, sent int64) string {
	if sent == 0 {
		return "-"
	}
	return strconv.FormatFloat(100*float64(got)/float64(sent), 'f', 1, 64) + "%"
}
