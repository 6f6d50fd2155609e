package control

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/devstack-dev/devstack/internal/event"
)

func TestEndpoints(t *testing.T) {
	bc, c := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	bc.bus.SetComponent(event.Component{Name: "control", Status: event.StatusReady, Addr: "127.0.0.1:1"})
	bc.bus.SetComponent(event.Component{Name: "broker", Status: event.StatusReady, Addr: "127.0.0.1:2"})
	bc.bus.SetComponent(event.Component{Name: "postgres", Status: event.StatusStarting}) // not ready: no address
	bc.bus.SetComponent(event.Component{Name: "gateway", Status: event.StatusReady, Addr: "127.0.0.1:4"})
	e, err := c.Endpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := Endpoints{Name: "t", StateDir: e.StateDir, Control: "127.0.0.1:1", Brokers: []string{"127.0.0.1:2"}, Gateway: "127.0.0.1:4"}
	if !reflect.DeepEqual(e, want) || e.StateDir == "" {
		t.Fatalf("Endpoints = %+v, want %+v", e, want)
	}
}

func TestRegistry(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	if es, err := Running(); err != nil || len(es) != 0 {
		t.Fatalf("empty registry: %v %v", es, err)
	}
	// a stack of this process, and one of a process that has exited (killed without cleaning up)
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	unregister, err := Register(Entry{Name: "b", Dir: "/src/b", StateDir: "/src/b/.devstack", Ports: map[string]int{"broker.port": 9093}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Register(Entry{Name: "a", Dir: "/src/a", StateDir: "/src/a/.devstack", PID: dead.Process.Pid}); err != nil {
		t.Fatal(err)
	}
	es, err := Running()
	if err != nil || len(es) != 1 || es[0].Name != "b" || es[0].PID != os.Getpid() || es[0].Ports["broker.port"] != 9093 || es[0].Started.IsZero() {
		t.Fatalf("Running = %+v, %v; want only b, of this process", es, err)
	}
	dir, _ := RegistryDir()
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) != 1 {
		t.Fatalf("the dead stack's file is not removed: %v", files)
	}
	unregister()
	if es, _ := Running(); len(es) != 0 {
		t.Fatalf("after unregister: %+v", es)
	}
}
