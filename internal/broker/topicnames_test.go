package broker

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Kafka's topic name rules hold for topics a client creates, not only for the ones devstack.yaml
// declares: a real admin client gets INVALID_TOPIC_EXCEPTION for a bad name, and a good name in the same
// request is still created.
func TestCreateTopicsRefusesInvalidNames(t *testing.T) {
	b := startBroker(t, Options{DataDir: t.TempDir()})
	ctx := testCtx(t)
	adm := kadm.NewClient(newClient(t, b.Addr()))
	bad := []string{".", "..", "../../x", "a/b", "with space", "ümlaut", strings.Repeat("x", 250), ""}
	for i, name := range bad {
		t.Run(name, func(t *testing.T) {
			fine := fmt.Sprintf("fine-%d", i)
			resp, err := adm.CreateTopics(ctx, 2, -1, nil, name, fine)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := resp[name]
			if !ok {
				t.Fatalf("no answer for %q in %v", name, resp)
			}
			if !errors.Is(got.Err, kerr.InvalidTopicException) {
				t.Fatalf("CreateTopics(%q): err = %v, want INVALID_TOPIC_EXCEPTION", name, got.Err)
			}
			if got.ErrMessage == "" {
				t.Errorf("CreateTopics(%q): no error message", name)
			}
			if r := resp[fine]; r.Err != nil || r.NumPartitions != 2 {
				t.Fatalf("the valid topic of the same request: err %v, %d partitions, want 2", r.Err, r.NumPartitions)
			}
		})
	}
	ts, err := b.Admin().Topics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, ti := range ts {
		if ValidateTopicName(ti.Name) != nil {
			t.Errorf("topic %q exists", ti.Name)
		}
	}
	if len(ts) != len(bad) {
		t.Fatalf("%d topics exist, want the %d valid ones: %v", len(ts), len(bad), ts)
	}
}

// Auto-creation (Metadata with AllowAutoTopicCreation, as producers send it) never creates a topic
// with an invalid name; the client hears the topic is unknown or invalid.
func TestAutoCreateRefusesInvalidNames(t *testing.T) {
	b := startBroker(t, Options{AutoCreate: true, DataDir: t.TempDir()})
	ctx := testCtx(t)
	for _, name := range []string{".", "..", "../../x"} {
		cl := newClient(t, b.Addr(), kgo.AllowAutoTopicCreation(), kgo.ProduceRequestTimeout(2e9), kgo.RecordDeliveryTimeout(3e9))
		err := cl.ProduceSync(ctx, &kgo.Record{Topic: name, Value: []byte("x")}).FirstErr()
		if err == nil {
			t.Errorf("produce to %q succeeded", name)
		}
	}
	ts, err := b.Admin().Topics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 0 {
		t.Fatalf("topics were auto-created: %v", ts)
	}
}
