package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/devstack-dev/devstack/internal/broker"
	"github.com/devstack-dev/devstack/internal/event"
	"github.com/devstack-dev/devstack/internal/testkit"
)

// runCLI runs one devstack command line, built the way Execute builds it, against stdin.
func runCLI(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	app := &App{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb}
	root := newRoot(app)
	root.SetArgs(args)
	root.SetIn(app.Stdin)
	root.SetOut(app.Stdout)
	root.SetErr(app.Stderr)
	err := root.ExecuteContext(ctx)
	return out.String(), errb.String(), err
}

func mustCLI(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, errOut, err := runCLI(t, stdin, args...)
	if err != nil {
		t.Fatalf("devstack %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

func startTestBroker(t *testing.T) *broker.Broker {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := broker.Start(ctx, broker.Options{AutoCreate: true, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

type jsonRec struct {
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	Offset    int64   `json:"offset"`
	Key       *string `json:"key"`
	Headers   []struct{ Key, Value string }
	Value     json.RawMessage `json:"value"`
}

func decodeRecords(t *testing.T, out string) []jsonRec {
	t.Helper()
	var rs []jsonRec
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var r jsonRec
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("decode %q: %v", out, err)
		}
		rs = append(rs, r)
	}
	return rs
}

func TestBrokerCommands(t *testing.T) {
	b := startTestBroker(t)
	br := "--brokers=" + b.Addr()

	// topic create / topics
	mustCLI(t, "", "topic", "create", "orders", "--partitions", "3", "--config", "retention.ms=3600000", br)
	if _, _, err := runCLI(t, "", "topic", "create", "orders", br); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("duplicate create: %v", err)
	}
	if _, _, err := runCLI(t, "", "topic", "create", "bad/name", br); err == nil || !strings.Contains(err.Error(), "only letters") {
		t.Fatalf("invalid name: %v", err)
	}
	var ts []event.TopicInfo
	if err := json.Unmarshal([]byte(mustCLI(t, "", "topics", "--json", "--rate-window=0", br)), &ts); err != nil {
		t.Fatal(err)
	}
	if len(ts) != 1 || ts[0].Name != "orders" || len(ts[0].Partitions) != 3 || ts[0].Configs["retention.ms"] != "3600000" {
		t.Fatalf("topics --json = %+v", ts)
	}

	// produce: key separator, headers, JSON check
	in := "u1:{\"id\":1,\"item\":\"book\"}\nu2:{\"id\":2}\n\nu1:{\"id\":3}\n"
	_, errOut, err := runCLI(t, in, "produce", "orders", "--key-separator", ":", "--header", "source=cli", "--json", br)
	if err != nil || !strings.Contains(errOut, "produced 3 records to orders") {
		t.Fatalf("produce: %v %s", err, errOut)
	}
	if _, _, err := runCLI(t, "{\"ok\":1}\nnot json\n", "produce", "orders", "--json", br); err == nil || !strings.Contains(err.Error(), "line 2 is not valid JSON") {
		t.Fatalf("produce --json with a bad line: %v", err)
	}
	// one record in partition 2 with a fixed key
	mustCLI(t, "plain text\n", "produce", "orders", "--key", "k9", "--partition", "2", br)

	// consume --from-beginning --json: everything, with keys and headers, no group joined
	recs := decodeRecords(t, mustCLI(t, "", "consume", "orders", "--from-beginning", "--json", br))
	if len(recs) != 4 {
		t.Fatalf("consume --from-beginning: %d records: %+v", len(recs), recs)
	}
	byKey := map[string][]jsonRec{}
	for _, r := range recs {
		byKey[*r.Key] = append(byKey[*r.Key], r)
	}
	if len(byKey["u1"]) != 2 || len(byKey["u2"]) != 1 || len(byKey["k9"]) != 1 {
		t.Fatalf("keys: %+v", byKey)
	}
	if byKey["u1"][0].Partition != byKey["u1"][1].Partition {
		t.Fatalf("same key landed in two partitions: %+v", byKey["u1"])
	}
	if h := byKey["u2"][0].Headers; len(h) != 1 || h[0].Key != "source" || h[0].Value != "cli" {
		t.Fatalf("headers: %+v", h)
	}
	if k9 := byKey["k9"][0]; k9.Partition != 2 || string(k9.Value) != `"plain text"` {
		t.Fatalf("--partition 2 record: %+v", k9)
	}

	// the default view pretty-prints JSON and shows partition/offset/key
	out := mustCLI(t, "", "consume", "orders", br)
	if !strings.Contains(out, "\"item\": \"book\"") || !strings.Contains(out, "key=u1") || !strings.Contains(out, "source: cli") {
		t.Fatalf("default consume output:\n%s", out)
	}
	// -n and --offset/--partition
	if recs := decodeRecords(t, mustCLI(t, "", "consume", "orders", "--from-beginning", "-n", "2", "--json", br)); len(recs) != 2 {
		t.Fatalf("-n 2: %d records", len(recs))
	}
	p := byKey["u1"][0].Partition
	recs = decodeRecords(t, mustCLI(t, "", "consume", "orders", "--partition", fmt.Sprint(p), "--offset", "1", "--json", br))
	if len(recs) == 0 || recs[0].Offset != 1 || recs[0].Partition != p {
		t.Fatalf("--partition %d --offset 1: %+v", p, recs)
	}
	if raw := mustCLI(t, "", "consume", "orders", "--partition", "2", "--from-beginning", "--raw", br); raw != "plain text\n" {
		t.Fatalf("--raw = %q", raw)
	}

	// the tap joined no group
	if out := mustCLI(t, "", "groups", br); !strings.Contains(out, "no consumer groups") {
		t.Fatalf("groups after tap reads:\n%s", out)
	}

	// consume --group commits what it printed, and resumes there
	recs = decodeRecords(t, mustCLI(t, "", "consume", "orders", "--group", "dbg", "--from-beginning", "-n", "3", "--json", br))
	if len(recs) != 3 {
		t.Fatalf("--group -n 3: %d records", len(recs))
	}
	var gs []event.GroupInfo
	if err := json.Unmarshal([]byte(mustCLI(t, "", "groups", "--json", br)), &gs); err != nil {
		t.Fatal(err)
	}
	var committed int64
	for _, o := range gs[0].Offsets {
		committed += o.Committed
	}
	if len(gs) != 1 || gs[0].Name != "dbg" || committed != 3 || len(gs[0].Members) != 0 {
		t.Fatalf("groups after consuming 3 of 4: %+v", gs)
	}
	// --from-beginning only applies where the group has no commit yet.
	recs = decodeRecords(t, mustCLI(t, "", "consume", "orders", "--group", "dbg", "--from-beginning", "--json", br))
	if len(recs) != 1 {
		t.Fatalf("group resumed with %d records, want the 1 left: %+v", len(recs), recs)
	}
	out = mustCLI(t, "", "groups", br)
	if !strings.Contains(out, "dbg") || !strings.Contains(out, "lag 0") || !strings.Contains(out, "COMMITTED") {
		t.Fatalf("groups table:\n%s", out)
	}

	// groups reset
	if _, _, err := runCLI(t, "", "groups", "reset", "dbg", br); err == nil || !strings.Contains(err.Error(), "exactly one") {
		t.Fatalf("reset without a target: %v", err)
	}
	out = mustCLI(t, "", "groups", "reset", "dbg", "--to-earliest", "--topic", "orders", br)
	if !strings.Contains(out, "lag 4") {
		t.Fatalf("reset --to-earliest:\n%s", out)
	}
	recs = decodeRecords(t, mustCLI(t, "", "consume", "orders", "--group", "dbg", "--json", br))
	if len(recs) != 4 {
		t.Fatalf("after reset the group read %d records, want all 4", len(recs))
	}

	// topics table
	out = mustCLI(t, "", "topics", "--rate-window=0", br)
	if !strings.Contains(out, "TOPIC") || !strings.Contains(out, "orders") || !strings.Contains(out, "END OFFSETS") {
		t.Fatalf("topics table:\n%s", out)
	}

	// delete
	mustCLI(t, "", "topic", "delete", "orders", br)
	if out := mustCLI(t, "", "topics", "--rate-window=0", br); !strings.Contains(out, "no topics") {
		t.Fatalf("after delete:\n%s", out)
	}
	if _, _, err := runCLI(t, "", "topic", "delete", "orders", br); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("delete missing topic: %v", err)
	}
}

func TestBrokerCommandsFollow(t *testing.T) {
	b := startTestBroker(t)
	a := b.Admin()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := a.CreateTopic(ctx, broker.TopicSpec{Name: "live"}); err != nil {
		t.Fatal(err)
	}
	// -f with -n 2: prints records produced after it started, then stops.
	done := make(chan string, 1)
	go func() {
		out, _, _ := runCLI(t, "", "consume", "live", "-f", "-n", "2", "--raw", "--offset", "0", "--brokers", b.Addr())
		done <- out
	}()
	for i := 0; ; i++ {
		if err := a.Produce(ctx, "live", []event.Message{{Value: []byte(fmt.Sprintf("m%d", i))}}); err != nil {
			t.Fatal(err)
		}
		select {
		case out := <-done:
			if out != "m0\nm1\n" {
				t.Fatalf("follow printed %q", out)
			}
			return
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal("consume -f never finished")
		}
	}
}

func TestBrokerCommandsConfigAndNoBroker(t *testing.T) {
	// Nothing listens on a port we just closed.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	_, _, err = runCLI(t, "", "topics", "--brokers", fmt.Sprintf("127.0.0.1:%d", port))
	want := fmt.Sprintf("no broker at 127.0.0.1:%d: is `devstack up` running?", port)
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}

	// Without --brokers and without a stack of this devstack.yaml, a broker on the configured port (say
	// another checkout's) is not used: one line says no stack runs here.
	other := startTestBroker(t)
	_, oport, _ := net.SplitHostPort(other.Addr())
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	dir := t.TempDir()
	cfg := filepath.Join(dir, "devstack.yaml")
	if err := os.WriteFile(cfg, []byte("name: t\nbroker:\n  host: 127.0.0.1\n  port: "+oport+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"topics"}, {"groups"}, {"produce", "x"}, {"consume", "x"}} {
		_, _, err = runCLI(t, "", append(args, "--file", cfg)...)
		want := "no devstack is running for " + dir + ": start it there with `devstack up`"
		if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "--brokers") || strings.Contains(err.Error(), "\n") {
			t.Fatalf("%v without a stack: err = %v, want one line %q", args, err, want)
		}
	}

	// With the stack running, its broker is the one its control API reports.
	sdir := t.TempDir()
	yaml := fmt.Sprintf("name: t\ncontrol: {port: %d}\nbroker: {port: %d}\n", testkit.FreePort(t), testkit.FreePort(t))
	scfg, _ := runTestStack(t, sdir, yaml)
	mustCLI(t, "", "topic", "create", "from-stack", "--file", scfg)
	if out := mustCLI(t, "", "topics", "--rate-window=0", "--file", scfg); !strings.Contains(out, "from-stack") {
		t.Fatalf("topics of the running stack:\n%s", out)
	}

}
