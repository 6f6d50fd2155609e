package procinfo

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// psArgs lists every process with the columns ParsePS reads. Both procps (Linux) and BSD ps (macOS)
// take these keywords; rss is in KiB in both, time is "[dd-]hh:mm:ss" (procps) or "mmm:ss.cc" (macOS).
var psArgs = []string{"-A", "-o", "pid=,ppid=,pgid=,state=,rss=,time="}

// PS lists every process with its CPU time and RSS by running ps, for systems without /proc.
func PS(ctx context.Context) ([]Proc, error) {
	out, err := exec.CommandContext(ctx, "ps", psArgs...).Output()
	if err != nil {
		return nil, fmt.Errorf("ps %s: %w", strings.Join(psArgs, " "), err)
	}
	return ParsePS(out), nil
}

// ParsePS reads the output of ps with psArgs, skipping lines it cannot read.
func ParsePS(out []byte) []Proc {
	var procs []Proc
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 6 {
			continue
		}
		var n [4]int
		ok := true
		for i, j := range []int{0, 1, 2, 4} {
			v, err := strconv.Atoi(f[j])
			ok = ok && err == nil && v >= 0
			n[i] = v
		}
		cpu, cok := parseCPUTime(f[5])
		if !ok || !cok || f[3] == "" {
			continue
		}
		procs = append(procs, Proc{PID: n[0], PPID: n[1], PGID: n[2], State: f[3][0], RSS: uint64(n[3]) * 1024, CPU: cpu})
	}
	return procs
}

// parseCPUTime reads ps's time column: "[dd-][hh:]mm:ss[.cc]" (procps: "1-02:03:04", "00:00:01";
// macOS: "0:00.03", "125:03.12").
func parseCPUTime(s string) (time.Duration, bool) {
	var days int
	if d, rest, ok := strings.Cut(s, "-"); ok {
		v, err := strconv.Atoi(d)
		if err != nil || v < 0 {
			return 0, false
		}
		days, s = v, rest
	}
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, false
	}
	sec, err := strconv.ParseFloat(parts[len(parts)-1], 64)
	if err != nil || sec < 0 || sec >= 60 {
		return 0, false
	}
	total := time.Duration(days) * 24 * time.Hour
	unit := time.Minute
	for i := len(parts) - 2; i >= 0; i-- {
		v, err := strconv.Atoi(parts[i])
		if err != nil || v < 0 {
			return 0, false
		}
		total += time.Duration(v) * unit
		unit *= 60
	}
	return total + time.Duration(sec*float64(time.Second)), true
}
