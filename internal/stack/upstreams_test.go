package stack

import (
	"testing"

	"github.com/devstack-dev/devstack/internal/event"
)

// The gateway is told that no instance is coming only when the service failed for good, was stopped
// or completed and none of its instances is starting, ready or about to restart.
func TestNoneComing(t *testing.T) {
	inst := func(st event.Status) []event.Instance { return []event.Instance{{Port: 1, Status: st}} }
	tests := []struct {
		name string
		sv   event.Service
		want string
	}{
		{"gave up", event.Service{Status: event.StatusFailed, Instances: inst(event.StatusFailed)}, "it failed"},
		{"stopped by the user", event.Service{Status: event.StatusStopped}, "it stopped"},
		{"completed", event.Service{Status: event.StatusCompleted, Instances: inst(event.StatusCompleted)}, "it completed"},
		{"pending", event.Service{Status: event.StatusPending}, ""},
		{"building after a failure", event.Service{Status: event.StatusBuilding}, ""},
		{"in backoff", event.Service{Status: event.StatusBackoff, Instances: inst(event.StatusBackoff)}, ""},
		{"one replica gave up, one runs", event.Service{Status: event.StatusFailed,
			Instances: append(inst(event.StatusFailed), inst(event.StatusReady)...)}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := noneComing(tc.sv); got != tc.want {
				t.Errorf("noneComing = %q, want %q", got, tc.want)
			}
		})
	}
}
