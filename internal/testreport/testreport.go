// Package testreport builds the JUnit XML report of `devstack test`: one test case per test the
// underlying runner reports, where it reports them, else one per tests: entry.
//
// A runner is recognised by what it leaves behind, not by its command line:
//   - go test output in the command's output (`go test -v` text or `go test -json` events): one case
//     per Go test, one suite per package (parsed with go-junit-report);
//   - files the command writes into its report directory (DEVSTACK_REPORT_DIR): JUnit XML (*.xml, e.g.
//     jest-junit, pytest --junitxml, Maven Surefire) taken as they are, and jest's JSON results
//     (*.json, from `jest --json --outputFile=$DEVSTACK_REPORT_DIR/jest.json`);
//   - nothing of the above: the entry itself is one case.
//
// An entry that failed although every case its runner reported passed (a build error, a timeout, a
// non-zero exit after the tests) also gets a failing case of its own, so no failure is lost.
package testreport

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/jstemmer/go-junit-report/v2/junit"
	"github.com/jstemmer/go-junit-report/v2/parser/gotest"
)

// Entry is one tests: entry of devstack.yaml (or the command after --) after it ran.
type Entry struct {
	Name      string
	Dir       string // its working directory: jest's test files are named relative to it
	Duration  time.Duration
	Failure   string // why it failed ("" when it passed)
	Output    string // the last lines of its output, for its own case
	OutputLog string // file holding its whole output (as shown: go test -json events as their text)
	ReportDir string // directory the runner may write reports into
}

// Report is the JUnit document of one `devstack test` run.
type Report struct {
	suites junit.Testsuites
	// Warnings name report files that could not be read.
	Warnings []string
}

// Build makes the report of the entries of stack's run. The suite of entries that have no runner
// cases is named "devstack.<stack>".
func Build(stack string, entries []Entry, total time.Duration) *Report {
	r := &Report{}
	r.suites.Name = "devstack." + stack
	own := junit.Testsuite{Name: "devstack." + stack}
	var ownTime time.Duration
	for _, e := range entries {
		suites, warns := runnerSuites(e)
		r.Warnings = append(r.Warnings, warns...)
		failed := false
		for _, s := range suites {
			if s.Failures+s.Errors > 0 {
				failed = true
			}
			s.ID = len(r.suites.Suites)
			s.AddProperty("devstack.test", e.Name)
			r.suites.AddSuite(s)
		}
		if len(suites) > 0 && (e.Failure == "" || failed) {
			continue
		}
		c := junit.Testcase{Name: e.Name, Classname: "devstack." + stack, Time: seconds(e.Duration)}
		if e.Failure != "" {
			c.Failure = &junit.Result{Message: e.Failure, Data: clean(e.Output)}
		} else if e.Output != "" {
			c.SystemOut = &junit.Output{Data: clean(e.Output)}
		}
		own.AddTestcase(c)
		ownTime += e.Duration
	}
	if len(own.Testcases) > 0 {
		own.ID = len(r.suites.Suites)
		own.Time = seconds(ownTime)
		r.suites.AddSuite(own)
	}
	r.suites.Time = seconds(total)
	return r
}

// Suites is the report as JUnit types.
func (r *Report) Suites() junit.Testsuites { return r.suites }

// WriteFile writes the report as JUnit XML.
func (r *Report) WriteFile(path string) error {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	if err := r.suites.WriteXML(&b); err != nil {
		return err
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write JUnit report: %w", err)
	}
	return nil
}

// runnerSuites are the suites the entry's runner reported: go test output first, then report files.
func runnerSuites(e Entry) ([]junit.Testsuite, []string) {
	var suites []junit.Testsuite
	var warns []string
	if e.OutputLog != "" {
		if f, err := os.Open(e.OutputLog); err == nil {
			for _, s := range goTestSuites(f) {
				if s.Name == "" { // no package line (killed before go test printed it): the entry names it
					s.Name = e.Name
					for i := range s.Testcases {
						s.Testcases[i].Classname = e.Name
					}
				}
				suites = append(suites, s)
			}
			f.Close()
		}
	}
	if e.ReportDir == "" {
		return suites, nil
	}
	var files []string
	_ = filepath.WalkDir(e.ReportDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	for _, p := range files {
		s, err := readReportFile(p, e.Dir)
		if err != nil {
			warns = append(warns, fmt.Sprintf("%s: report of test %q not used: %v", filepath.Base(p), e.Name, err))
			continue
		}
		suites = append(suites, s...)
	}
	return suites, warns
}

// goTestSuites reads go test output (-v text, or the text of -json events); packages without tests
// (and output that is not go test's) give nothing.
func goTestSuites(r io.Reader) []junit.Testsuite {
	rep, err := gotest.NewParser().Parse(r)
	if err != nil {
		return nil
	}
	// only packages with tests: a line such as "FAIL some/file" from another runner reads as a package
	pkgs := rep.Packages[:0]
	for _, p := range rep.Packages {
		if len(p.Tests) > 0 {
			pkgs = append(pkgs, p)
		}
	}
	rep.Packages = pkgs
	return junit.CreateFromReport(rep, "").Suites
}

func readReportFile(p, dir string) ([]junit.Testsuite, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	switch strings.ToLower(filepath.Ext(p)) {
	case ".xml":
		return parseJUnitXML(b)
	case ".json":
		if s, err := parseJestJSON(b, dir); err == nil {
			return s, nil
		} else if s := goTestSuites(bytes.NewReader(b)); len(s) > 0 {
			return s, nil // go test -json written to a file
		} else {
			return nil, err
		}
	}
	return nil, errors.New("neither JUnit XML (.xml) nor jest JSON results (.json)")
}

// parseJUnitXML reads a <testsuites> or a single <testsuite> document.
func parseJUnitXML(b []byte) ([]junit.Testsuite, error) {
	var all junit.Testsuites
	if err := xml.Unmarshal(b, &all); err == nil {
		return all.Suites, nil
	}
	var one junit.Testsuite
	if err := xml.Unmarshal(b, &one); err != nil {
		return nil, fmt.Errorf("not JUnit XML: %w", err)
	}
	return []junit.Testsuite{one}, nil
}

// jestResults is what `jest --json` writes (the fields used here).
type jestResults struct {
	NumTotalTests *int `json:"numTotalTests"`
	TestResults   []struct {
		Name             string  `json:"name"`
		Message          string  `json:"message"`
		Status           string  `json:"status"`
		StartTime        float64 `json:"startTime"`
		EndTime          float64 `json:"endTime"`
		AssertionResults []struct {
			FullName        string   `json:"fullName"`
			Title           string   `json:"title"`
			AncestorTitles  []string `json:"ancestorTitles"`
			Status          string   `json:"status"`
			Duration        *float64 `json:"duration"`
			FailureMessages []string `json:"failureMessages"`
		} `json:"assertionResults"`
	} `json:"testResults"`
}

// parseJestJSON makes one suite per test file (named by its path relative to base when it is below it)
// and one case per test.
func parseJestJSON(b []byte, base string) ([]junit.Testsuite, error) {
	var jr jestResults
	if err := json.Unmarshal(b, &jr); err != nil {
		return nil, fmt.Errorf("not jest JSON results: %w", err)
	}
	if jr.NumTotalTests == nil {
		return nil, errors.New("not jest JSON results (no numTotalTests)")
	}
	var out []junit.Testsuite
	for _, f := range jr.TestResults {
		name := f.Name
		if rel, err := filepath.Rel(base, f.Name); err == nil && base != "" && !strings.HasPrefix(rel, "..") {
			name = rel
		}
		s := junit.Testsuite{Name: name, File: f.Name}
		if f.EndTime > f.StartTime {
			s.Time = seconds(time.Duration((f.EndTime - f.StartTime) * float64(time.Millisecond)))
		} else {
			s.Time = seconds(0)
		}
		for _, a := range f.AssertionResults {
			c := junit.Testcase{Name: a.FullName, Classname: name}
			if c.Name == "" {
				c.Name = strings.Join(append(append([]string(nil), a.AncestorTitles...), a.Title), " ")
			}
			if a.Duration != nil {
				c.Time = seconds(time.Duration(*a.Duration * float64(time.Millisecond)))
			}
			switch a.Status {
			case "passed":
			case "failed":
				msg := "failed"
				if len(a.FailureMessages) > 0 {
					msg = firstLine(a.FailureMessages[0])
				}
				c.Failure = &junit.Result{Message: msg, Data: clean(strings.Join(a.FailureMessages, "\n"))}
			default: // pending, skipped, todo, disabled
				c.Skipped = &junit.Result{Message: a.Status}
			}
			s.AddTestcase(c)
		}
		if len(f.AssertionResults) == 0 && f.Status == "failed" {
			// the file did not run (a syntax error, a failing import): one error case says why
			s.AddTestcase(junit.Testcase{Name: name, Classname: name, Time: seconds(0),
				Error: &junit.Result{Message: "test file failed to run", Data: clean(f.Message)}})
		}
		out = append(out, s)
	}
	return out, nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(stripANSI(s))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// clean drops terminal colours and characters XML cannot hold.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || r >= 0x10000 && r <= 0x10FFFF {
			return r
		}
		return '\uFFFD'
	}, stripANSI(s))
}

// stripANSI removes CSI escape sequences (colours), which jest puts into its failure messages.
func stripANSI(s string) string {
	if !strings.Contains(s, "\x1b[") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
			i = j
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
