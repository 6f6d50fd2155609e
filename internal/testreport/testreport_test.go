package testreport

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jstemmer/go-junit-report/v2/junit"
)

// outcome lists "suite/case=pass|fail|skip|error" of a report, sorted.
func outcome(ts junit.Testsuites) string {
	var out []string
	for _, s := range ts.Suites {
		for _, c := range s.Testcases {
			st := "pass"
			switch {
			case c.Failure != nil:
				st = "fail"
			case c.Error != nil:
				st = "error"
			case c.Skipped != nil:
				st = "skip"
			}
			out = append(out, s.Name+"/"+c.Name+"="+st)
		}
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func entryWith(t *testing.T, name, failure, output string, reports ...string) Entry {
	t.Helper()
	dir := t.TempDir()
	rd := filepath.Join(dir, "reports")
	if err := os.Mkdir(rd, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, r := range reports {
		b, err := os.ReadFile(filepath.Join("testdata", r))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(rd, r), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	log := filepath.Join(dir, "output.log")
	if err := os.WriteFile(log, []byte(output), 0o644); err != nil {
		t.Fatal(err)
	}
	return Entry{Name: name, Dir: "/work/app", Duration: time.Second, Failure: failure, Output: output, OutputLog: log, ReportDir: rd}
}

func TestBuild(t *testing.T) {
	goV, _ := os.ReadFile("testdata/go-v.txt")
	for _, tc := range []struct {
		name  string
		entry func(t *testing.T) Entry
		want  string
		warn  string
	}{
		{"no runner: the entry is the case", func(t *testing.T) Entry { return entryWith(t, "smoke", "", "hello\n") },
			"devstack.s/smoke=pass", ""},
		{"no runner, failed", func(t *testing.T) Entry { return entryWith(t, "smoke", "exit status 3", "FAIL something\n") },
			"devstack.s/smoke=fail", ""},
		{"go test -v output", func(t *testing.T) Entry { return entryWith(t, "unit", "exit status 1", string(goV)) },
			"example.com/m/TestA=pass example.com/m/TestB=fail", ""},
		{"go tests passed but the entry failed (timeout)", func(t *testing.T) Entry {
			// killed at its timeout after its tests passed: no package summary line
			return entryWith(t, "unit", "timed out", "=== RUN   TestA\n--- PASS: TestA (0.00s)\n=== RUN   TestB\n--- PASS: TestB (0.00s)\n")
		}, "devstack.s/unit=fail unit/TestA=pass unit/TestB=pass", ""},
		{"jest JSON results", func(t *testing.T) Entry { return entryWith(t, "web", "exit status 1", "", "jest.json") },
			"test/a.test.js/a breaks=fail test/a.test.js/a works=pass test/a.test.js/later=skip test/b.test.js/test/b.test.js=error", ""},
		{"JUnit XML files", func(t *testing.T) Entry {
			return entryWith(t, "py", "exit status 1", "", "pytest.xml", "single-suite.xml")
		}, "pytest/test_total=pass pytest/test_vat=fail surefire/starts=pass", ""},
		{"an unreadable report is a warning", func(t *testing.T) Entry {
			e := entryWith(t, "x", "", "")
			os.WriteFile(filepath.Join(e.ReportDir, "notes.txt"), []byte("hi"), 0o644)
			return e
		}, "devstack.s/x=pass", "notes.txt: report of test \"x\" not used"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Build("s", []Entry{tc.entry(t)}, time.Second)
			if got := outcome(r.Suites()); got != tc.want {
				t.Errorf("cases\n got %s\nwant %s", got, tc.want)
			}
			if w := strings.Join(r.Warnings, "; "); !strings.Contains(w, tc.warn) || (tc.warn == "" && w != "") {
				t.Errorf("warnings %q, want %q", w, tc.warn)
			}
			path := filepath.Join(t.TempDir(), "junit.xml")
			if err := r.WriteFile(path); err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(path)
			if bytes.Contains(b, []byte("\x1b[")) {
				t.Errorf("terminal colours in the report:\n%s", b)
			}
		})
	}
}

func TestGoJSONText(t *testing.T) {
	in := `{"Action":"start","Package":"m"}
{"Action":"run","Package":"m","Test":"TestA"}
{"Action":"output","Package":"m","Test":"TestA","Output":"=== RUN   TestA\n"}
plain line
{"not":"an event"}
{"Action":"output","Package":"m","Test":"TestA","Output":"--- PASS: TestA (0.00s)\n"}
partial`
	want := "=== RUN   TestA\nplain line\n{\"not\":\"an event\"}\n--- PASS: TestA (0.00s)\npartial"
	for _, size := range []int{1, 3, 7, len(in)} { // any split of the writes
		var out bytes.Buffer
		g := NewGoJSONText(&out)
		for i := 0; i < len(in); i += size {
			g.Write([]byte(in[i:min(i+size, len(in))]))
		}
		g.Close()
		if out.String() != want {
			t.Errorf("writes of %d bytes:\n got %q\nwant %q", size, out.String(), want)
		}
	}
}
