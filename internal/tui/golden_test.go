package tui

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"
)

// testConfig pins colours (16-colour ANSI), the clock and the zone so frames are byte-stable.
func testConfig(profile termenv.Profile) config {
	return config{profile: &profile, now: func() time.Time { return fixedNow }, loc: time.UTC}
}

// TestGoldenFrames runs the real program (teatest) against the fixture stack, drives it with keys,
// waits for the data to be on screen, and compares the final frame with testdata/*.golden.
// Update the files with: go test ./internal/tui -run TestGoldenFrames -update
func TestGoldenFrames(t *testing.T) {
	views := []struct {
		name    string
		noColor bool
		steps   []step
		access  bool
	}{
		{name: "services", steps: []step{{wait: []string{"analytics", "order 1043 placed"}}}},
		{name: "services_failing", steps: []step{{wait: []string{"order 1043"}}, {keys: "jj", wait: []string{"SyntaxError"}}}},
		{name: "services_nocolor", noColor: true, steps: []step{{wait: []string{"analytics", "order 1043 placed"}}}},
		{name: "logs", steps: []step{{wait: []string{"analytics"}}, {keys: "2", wait: []string{"following", "u-9"}}}},
		{name: "logs_filtered", steps: []step{{wait: []string{"analytics"}}, {keys: "2/order\r", wait: []string{"filter:"}}}},
		{name: "logs_level", steps: []step{{wait: []string{"analytics"}}, {keys: "2ee", wait: []string{"level: warn+"}}}},
		{name: "logs_field", steps: []step{{wait: []string{"analytics"}}, {keys: "2/order=1043\r", wait: []string{"filter:"}}}},
		{name: "topics", steps: []step{{wait: []string{"analytics"}}, {keys: "3", wait: []string{"orders.scored"}}}},
		{name: "messages", steps: []step{{wait: []string{"analytics"}}, {keys: "3", wait: []string{"orders.scored"}}, {keys: "\r", wait: []string{"1042", "live"}}}},
		{name: "messages_binary", steps: []step{{wait: []string{"analytics"}}, {keys: "3", wait: []string{"orders.scored"}}, {keys: "j\r", wait: []string{"binary, hex"}}}},
		{name: "groups", steps: []step{{wait: []string{"analytics"}}, {keys: "5", wait: []string{"no active members"}}}},
		{name: "gateway", access: true, steps: []step{{wait: []string{"analytics"}}, {keys: "6", wait: []string{"req-d", "1/1"}}}}, // 1/1: the routes have loaded too
		{name: "help", steps: []step{{wait: []string{"analytics"}}, {keys: "?", wait: []string{"ctrl+s"}}}},
	}
	for _, size := range [][2]int{{80, 24}, {120, 40}} {
		for _, v := range views {
			t.Run(fmt.Sprintf("%s_%dx%d", v.name, size[0], size[1]), func(t *testing.T) {
				f := fixture()
				m := newModel(context.Background(), f, Options{NoColor: v.noColor, Version: "test"}, testConfig(termenv.ANSI))
				var after func(i int)
				if v.access {
					after = func(i int) {
						if i == 0 {
							publishAccess(f) // now that the model has subscribed
						}
					}
				}
				requireGoldenFrame(t, m, size, v.steps, after)
			})
		}
	}
}

// step is one step of a golden run: keys typed, then texts waited for on screen.
type step struct {
	keys string   // typed keys; "\r" is enter
	wait []string // texts that must be on screen before the next step
}

// requireGoldenFrame runs the real program (teatest) on m at size (width, height), plays steps (calling
// after, when set, with each step's index once its texts are on screen), and compares the final frame
// with the test's testdata/*.golden.
func requireGoldenFrame(t *testing.T, m *Model, size [2]int, steps []step, after func(i int)) {
	t.Helper()
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(size[0], size[1]))
	t.Cleanup(func() { _ = tm.Quit() })
	var out bytes.Buffer
	for i, st := range steps {
		for _, r := range st.keys {
			if r == '\r' {
				tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
			} else {
				tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
			}
		}
		for _, w := range st.wait {
			waitScreen(t, tm, &out, w)
		}
		if after != nil {
			after(i)
		}
	}
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	fm := tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second)).(*Model)
	golden.RequireEqual(t, []byte(fm.render()))
}

// waitScreen reads the program's output until it has shown text, or fails after a deadline.
func waitScreen(t *testing.T, tm *teatest.TestModel, out *bytes.Buffer, text string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := io.ReadAll(tm.Output())
		if err != nil {
			t.Fatal(err)
		}
		out.Write(b)
		if bytes.Contains(out.Bytes(), []byte(text)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q never appeared on screen; output so far:\n%s", text, out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
