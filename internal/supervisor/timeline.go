package supervisor

import (
	"fmt"
	"slices"
	"time"

	"github.com/devstack-dev/devstack/internal/event"
)

// timeline records where a deploy's time goes, phase by phase (event.Reload.Timeline).
type timeline struct {
	last   time.Time
	phases []event.Phase
}

func newTimeline(began time.Time) *timeline { return &timeline{last: began} }

// mark ends the current phase now.
func (t *timeline) mark(name, note string) { t.markAt(name, note, time.Now()) }

// markAt ends the current phase at at (a moment recorded by another goroutine, say the probe's).
func (t *timeline) markAt(name, note string, at time.Time) {
	if t == nil {
		return
	}
	if at.Before(t.last) {
		at = t.last
	}
	t.phases = append(t.phases, event.Phase{Name: name, Took: at.Sub(t.last), Note: note})
	t.last = at
}

func (t *timeline) list() []event.Phase {
	if t == nil {
		return nil
	}
	return slices.Clone(t.phases)
}

// markInstances records start and ready from the slowest of the new instances (all reported their
// first outcome), then switch up to now.
func (t *timeline) markInstances(ks []*keeper) {
	if t == nil || len(ks) == 0 {
		return
	}
	slow := ks[0]
	for _, k := range ks[1:] {
		if k.readyAt.After(slow.readyAt) {
			slow = k
		}
	}
	if !slow.spawnedAt.IsZero() {
		t.markAt("start", slow.startNote, slow.spawnedAt)
	}
	if !slow.readyAt.IsZero() {
		t.markAt("ready", probesNote(slow.probes), slow.readyAt)
	}
}

func probesNote(n int) string {
	if n == 0 {
		return "no probe"
	}
	if n == 1 {
		return "1 probe"
	}
	return fmt.Sprintf("%d probes", n)
}
