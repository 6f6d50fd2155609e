package event

import "testing"

func TestParseTraceparent(t *testing.T) {
	const tid, pid = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	tests := []struct {
		name, h string
		ok      bool
		flags   byte
	}{
		{"sampled", "00-" + tid + "-" + pid + "-01", true, 1},
		{"not sampled", "00-" + tid + "-" + pid + "-00", true, 0},
		{"future version with more fields", "cc-" + tid + "-" + pid + "-01-what-the-future-holds", true, 1},
		{"version 00 with extra text", "00-" + tid + "-" + pid + "-01-x", false, 0},
		{"version ff", "ff-" + tid + "-" + pid + "-01", false, 0},
		{"upper-case hex", "00-4BF92F3577B34DA6A3CE929D0E0E4736-" + pid + "-01", false, 0},
		{"zero trace id", "00-00000000000000000000000000000000-" + pid + "-01", false, 0},
		{"zero parent id", "00-" + tid + "-0000000000000000-01", false, 0},
		{"short", "00-" + tid + "-" + pid[:15] + "-01", false, 0},
		{"wrong separator", "00_" + tid + "-" + pid + "-01", false, 0},
		{"empty", "", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotT, gotP, flags, ok := ParseTraceparent(tt.h)
			if ok != tt.ok {
				t.Fatalf("ParseTraceparent(%q) ok = %v, want %v", tt.h, ok, tt.ok)
			}
			if ok && (gotT != tid || gotP != pid || flags != tt.flags) {
				t.Errorf("ParseTraceparent(%q) = %s %s %x", tt.h, gotT, gotP, flags)
			}
		})
	}
	if h := FormatTraceparent(tid, pid, 1); h != "00-"+tid+"-"+pid+"-01" {
		t.Errorf("FormatTraceparent = %q", h)
	}
}

func FuzzParseTraceparent(f *testing.F) {
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	f.Fuzz(func(t *testing.T, h string) {
		tid, pid, flags, ok := ParseTraceparent(h)
		if !ok {
			return
		}
		if len(tid) != 32 || len(pid) != 16 {
			t.Fatalf("ids %q %q", tid, pid)
		}
		if h[:2] == "00" && FormatTraceparent(tid, pid, flags) != h {
			t.Fatalf("round trip of %q", h)
		}
	})
}
