package supervisor

import (
	"testing"
	"time"
)

// After a start, a network probe checks at once and then every fastProbe until fastProbeFor has
// passed (a reload's instance is seen ready within fastProbe of listening, not at the next interval
// tick); later, and for exec probes (a process per check), it backs off to the interval.
func TestNextProbeWait(t *testing.T) {
	const iv = 200 * time.Millisecond
	for _, tc := range []struct {
		name    string
		exec    bool
		elapsed time.Duration
		prev    time.Duration
		want    time.Duration
	}{
		{"first retry", false, 0, 0, fastProbe},
		{"1.5s after start, still fast", false, 1500 * time.Millisecond, fastProbe, fastProbe},
		{"after the fast period it backs off", false, fastProbeFor, fastProbe, 2 * fastProbe},
		{"up to the interval", false, 30 * time.Second, 160 * time.Millisecond, iv},
		{"an interval shorter than fastProbe wins", false, 0, 0, iv},
		{"exec probes back off from the start", true, 0, 0, 10 * time.Millisecond},
		{"exec doubling", true, 500 * time.Millisecond, 40 * time.Millisecond, 80 * time.Millisecond},
		{"exec up to the interval", true, time.Second, 160 * time.Millisecond, iv},
	} {
		t.Run(tc.name, func(t *testing.T) {
			interval := iv
			if tc.name == "an interval shorter than fastProbe wins" {
				interval = fastProbe / 2
				tc.want = interval
			}
			if got := nextProbeWait(tc.elapsed, tc.prev, interval, tc.exec); got != tc.want {
				t.Errorf("nextProbeWait(%s, %s, %s, exec=%v) = %s, want %s", tc.elapsed, tc.prev, interval, tc.exec, got, tc.want)
			}
		})
	}
}
