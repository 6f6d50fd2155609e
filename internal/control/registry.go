package control

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Entry is one running stack in the per-user registry: written when `devstack up` starts, removed when
// it stops. Entries of a devstack that died without removing its file are ignored and deleted.
type Entry struct {
	Name     string `json:"name"`
	Dir      string `json:"dir"`    // directory of devstack.yaml
	Config   string `json:"config"` // path of devstack.yaml
	StateDir string `json:"state_dir"`
	PID      int    `json:"pid"`
	// Ports are the ports the stack's components listen on, by config key ("control.port",
	// "broker.port", "postgres.port", "gateway.http_port", "gateway.https_port").
	Ports   map[string]int `json:"ports"`
	Started time.Time      `json:"started"`
}

// RegistryDir is the per-user directory of running stacks: $XDG_RUNTIME_DIR/devstack/stacks, else
// <user cache dir>/devstack/stacks.
func RegistryDir() (string, error) {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "devstack", "stacks"), nil
	}
	c, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("registry of running stacks: %w (set XDG_RUNTIME_DIR or HOME)", err)
	}
	return filepath.Join(c, "devstack", "stacks"), nil
}

func entryFile(dir string, e Entry) string {
	h := sha256.Sum256([]byte(e.StateDir))
	return filepath.Join(dir, fmt.Sprintf("%d-%s.json", e.PID, hex.EncodeToString(h[:6])))
}

// Register writes e (PID defaults to this process) into the registry and returns the function that
// removes it.
func Register(e Entry) (unregister func(), err error) {
	dir, err := RegistryDir()
	if err != nil {
		return nil, err
	}
	if e.PID == 0 {
		e.PID = os.Getpid()
	}
	if e.Started.IsZero() {
		e.Started = time.Now()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("registry of running stacks: %w", err)
	}
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return nil, err
	}
	f := entryFile(dir, e)
	tmp := f + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return nil, fmt.Errorf("registry of running stacks: %w", err)
	}
	if err := os.Rename(tmp, f); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("registry of running stacks: %w", err)
	}
	return func() { os.Remove(f) }, nil
}

// Running lists the stacks of the registry whose devstack process is alive, by directory. Files of
// dead processes are removed.
func Running() ([]Entry, error) {
	dir, err := RegistryDir()
	if err != nil {
		return nil, err
	}
	files, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("registry of running stacks: %w", err)
	}
	var out []Entry
	for _, fi := range files {
		if fi.IsDir() || !strings.HasSuffix(fi.Name(), ".json") {
			continue
		}
		p := filepath.Join(dir, fi.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var e Entry
		if json.Unmarshal(b, &e) != nil || e.PID <= 0 || !pidAlive(e.PID) {
			os.Remove(p) // unreadable or its devstack is gone
			continue
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Dir != out[j].Dir {
			return out[i].Dir < out[j].Dir
		}
		return out[i].PID < out[j].PID
	})
	return out, nil
}

// pidAlive says whether process pid exists (EPERM: it exists but belongs to someone else).
func pidAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
