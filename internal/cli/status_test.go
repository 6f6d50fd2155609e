package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/devstack-dev/devstack/internal/event"
)

// devstack status shows where the last reload's time went, phase by phase.
func TestStatusShowsReloadTimeline(t *testing.T) {
	st := event.State{Name: "s", StartedAt: time.Now(), Services: []event.Service{{
		Name: "scorer", Status: event.StatusReady, Replicas: 1,
		LastReload: &event.Reload{At: time.Now(), Duration: 1100 * time.Millisecond, OK: true, Trigger: "main.go",
			Timeline: []event.Phase{
				{Name: "debounce", Took: 200 * time.Millisecond},
				{Name: "setup", Took: time.Millisecond, Note: "unchanged"},
				{Name: "build", Took: 800 * time.Millisecond},
				{Name: "start", Took: 2 * time.Millisecond},
				{Name: "ready", Took: 97 * time.Millisecond, Note: "4 probes"},
				{Name: "switch", Took: 0},
				{Name: "drain", Took: 1005 * time.Millisecond},
			}},
	}}}
	var out bytes.Buffer
	writeStatus(&App{Stdout: &out}, st)
	want := "scorer last reload (main.go, 1.1s): debounce 200ms · setup 1ms (unchanged) · build 800ms · start 2ms · ready 97ms (4 probes) · switch 0s · drain 1.005s"
	if !strings.Contains(out.String(), want) {
		t.Errorf("status output lacks the timeline %q:\n%s", want, out.String())
	}
}
