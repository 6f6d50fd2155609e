package broker

import (
	"errors"
	"github.com/devstack-dev/devstack/internal/event"
	"testing"
)

// A tap on a topic that does not exist yet is "not found" (404 over the control API), not a server error.
func TestMessagesOnMissingTopicIsNotFound(t *testing.T) {
	b := startBroker(t, Options{Port: 0})
	a, err := NewAdmin([]string{b.Addr()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	_, err = a.Messages(testCtx(t), event.MessageQuery{Topic: "nope", Partition: -1, From: "beginning"})
	if !errors.Is(err, event.ErrNotFound) {
		t.Fatalf("Messages(missing topic) = %v, want an error wrapping event.ErrNotFound", err)
	}
}
