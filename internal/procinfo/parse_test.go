package procinfo

import (
	"context"
	"encoding/binary"
	"net"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"
)

func TestParsePS(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want []Proc
	}{
		{"procps (Linux)", "    1     0     1 S  12044 00:00:03\n 4242     1  4242 R   2048 1-02:03:04\n",
			[]Proc{{PID: 1, PPID: 0, PGID: 1, State: 'S', RSS: 12044 * 1024, CPU: 3 * time.Second},
				{PID: 4242, PPID: 1, PGID: 4242, State: 'R', RSS: 2048 * 1024, CPU: 26*time.Hour + 3*time.Minute + 4*time.Second}}},
		{"BSD ps (macOS)", "  501   1   501 Ss     6784   0:00.03\n  777 501   777 Z+        0 125:03.12\n",
			[]Proc{{PID: 501, PPID: 1, PGID: 501, State: 'S', RSS: 6784 * 1024, CPU: 30 * time.Millisecond},
				{PID: 777, PPID: 501, PGID: 777, State: 'Z', CPU: 125*time.Minute + 3120*time.Millisecond}}},
		{"macOS hours", "9 1 9 S 1 1:02:03.50\n",
			[]Proc{{PID: 9, PPID: 1, PGID: 9, State: 'S', RSS: 1024, CPU: time.Hour + 2*time.Minute + 3500*time.Millisecond}}},
		{"junk skipped", "PID PPID PGID STAT RSS TIME\nx 1 1 S 1 0:00.00\n1 2 3 S 4 nonsense\n1 2 3 S 4 0:61\n\n", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ParsePS([]byte(tc.out))
			if !slices.Equal(got, tc.want) {
				t.Errorf("ParsePS =\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

// The ps invocation works with this machine's ps (procps here; BSD ps takes the same keywords).
func TestPSFindsThisProcess(t *testing.T) {
	if _, err := exec.LookPath("ps"); err != nil {
		t.Skip("no ps")
	}
	// burn a little over a second of CPU so the time column (whole seconds in procps) is not zero
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	for end := time.Now().Add(30 * time.Second); cpu() < 1100*time.Millisecond && time.Now().Before(end); {
	}
	before := cpu()
	ps, err := PS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(ps, func(p Proc) bool { return p.PID == os.Getpid() })
	if i < 0 {
		t.Fatalf("ps did not list this process (%d) among %d", os.Getpid(), len(ps))
	}
	p := ps[i]
	if p.PPID != os.Getppid() || p.RSS < 1<<20 || p.CPU < before-time.Second || p.CPU > cpu() || p.State != 'R' && p.State != 'S' {
		t.Errorf("this process as ps sees it: %+v (ppid %d)", p, os.Getppid())
	}
}

func TestParseProcArgs2(t *testing.T) {
	build := func(argc int32, parts ...string) []byte {
		b := binary.LittleEndian.AppendUint32(nil, uint32(argc))
		b = append(b, "/usr/bin/env\x00\x00\x00\x00"...)
		for _, p := range parts {
			b = append(b, p...)
			b = append(b, 0)
		}
		return b
	}
	tests := []struct {
		name      string
		buf       []byte
		argv, env []string
		ok        bool
	}{
		{"args and env", append(build(2, "env", "-i", "A=1", "DEVSTACK_INSTANCE_ID=x"), "\x00junk"...),
			[]string{"env", "-i"}, []string{"A=1", "DEVSTACK_INSTANCE_ID=x"}, true},
		{"env to the end", build(1, "sh", "B=2"), []string{"sh"}, []string{"B=2"}, true},
		{"no env", build(1, "sh"), []string{"sh"}, nil, true},
		{"truncated args", build(3, "sh"), nil, nil, false},
		{"too short", []byte{1, 0}, nil, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			argv, env, ok := parseProcArgs2(tc.buf, binary.LittleEndian)
			if ok != tc.ok || !slices.Equal(argv, tc.argv) || !slices.Equal(env, tc.env) {
				t.Errorf("parseProcArgs2 = %q %q %v, want %q %q %v", argv, env, ok, tc.argv, tc.env, tc.ok)
			}
		})
	}
}

func TestLsofField(t *testing.T) {
	tests := []struct {
		out  string
		want byte
		pid  int
		val  string
		ok   bool
	}{
		{"p812\ncpostgres\nf7\n", 'c', 812, "postgres", true},
		{"p812\nfcwd\nn/Users/me/app/.devstack/postgres/data\n", 'n', 812, "/Users/me/app/.devstack/postgres/data", true},
		{"p1\nf3\np2\ncnode\n", 'c', 1, "", false},
		{"", 'c', 0, "", false},
	}
	for _, tc := range tests {
		pid, val, ok := lsofField([]byte(tc.out), tc.want)
		if pid != tc.pid || val != tc.val || ok != tc.ok {
			t.Errorf("lsofField(%q, %c) = %d %q %v, want %d %q %v", tc.out, tc.want, pid, val, ok, tc.pid, tc.val, tc.ok)
		}
	}
}

// The lsof invocations macOS uses, run against this machine's lsof.
func TestLsof(t *testing.T) {
	if _, err := exec.LookPath("lsof"); err != nil {
		if os.Getenv("DEVSTACK_REQUIRE_ALL") == "1" {
			t.Fatal("lsof is required")
		}
		t.Skip("lsof not installed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	if pid, comm, ok := portOwnerLsof(port); !ok || pid != os.Getpid() || comm == "" {
		t.Errorf("portOwnerLsof = %d %q %v, want this process (%d)", pid, comm, ok, os.Getpid())
	}
	wd, _ := os.Getwd()
	if got := cwdLsof(os.Getpid()); got != wd {
		t.Errorf("cwdLsof = %q, want %q", got, wd)
	}
	l.Close()
	if _, _, ok := portOwnerLsof(port); ok {
		t.Errorf("portOwnerLsof found an owner of a closed port")
	}
}
