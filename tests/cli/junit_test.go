package cli_test

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

type junitDoc struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Suites   []struct {
		Name  string `xml:"name,attr"`
		Tests int    `xml:"tests,attr"`
		Cases []struct {
			Name      string `xml:"name,attr"`
			Classname string `xml:"classname,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
			Skipped *struct{} `xml:"skipped"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// cases maps "suite/case" to pass, fail or skip.
func (d junitDoc) cases() map[string]string {
	m := map[string]string{}
	for _, s := range d.Suites {
		for _, c := range s.Cases {
			st := "pass"
			if c.Failure != nil {
				st = "fail"
			} else if c.Skipped != nil {
				st = "skip"
			}
			m[s.Name+"/"+c.Name] = st
		}
	}
	return m
}

func readJUnit(t *testing.T, path string) junitDoc {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d junitDoc
	if err := xml.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, b)
	}
	return d
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func sameCases(t *testing.T, got map[string]string, want map[string]string, junit string) {
	t.Helper()
	var g, w []string
	for k, v := range got {
		g = append(g, k+"="+v)
	}
	for k, v := range want {
		w = append(w, k+"="+v)
	}
	sort.Strings(g)
	sort.Strings(w)
	if strings.Join(g, "\n") != strings.Join(w, "\n") {
		b, _ := os.ReadFile(junit)
		t.Errorf("JUnit cases:\n%s\nwant:\n%s\n\n%s", strings.Join(g, "\n"), strings.Join(w, "\n"), b)
	}
}

const goModuleUnderTest = `-- go.mod --
module example.com/calc

go 1.22
-- calc_test.go --
package calc

import "testing"

func TestAdds(t *testing.T) {}
func TestSubtracts(t *testing.T) { t.Error("2-1 is not 3") }
func TestDivides(t *testing.T) { t.Skip("not yet") }
func TestTable(t *testing.T) {
	t.Run("one", func(t *testing.T) {})
	t.Run("two", func(t *testing.T) {})
}
`

func txtar(s string) map[string]string {
	files := map[string]string{}
	var name string
	for _, line := range strings.SplitAfter(s, "\n") {
		if strings.HasPrefix(line, "-- ") && strings.HasSuffix(strings.TrimSpace(line), " --") {
			name = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(line), "-- "), " --")
			continue
		}
		files[name] += line
	}
	return files
}

// go test's own tests are the JUnit cases (with -json or -v), not the tests: entry.
func TestJUnitHasGoTestCases(t *testing.T) {
	dir, _ := stackDir(t, bareStack+`
tests:
  - {name: calc-json, dir: calc, command: go test -json ./...}
  - {name: calc-v, dir: calc, command: go test -v ./...}
  - {name: plain, command: echo no runner here}
`)
	writeFiles(t, filepath.Join(dir, "calc"), txtar(goModuleUnderTest))
	junit := filepath.Join(dir, "junit.xml")
	out, code := run(t, dir, "test", "--junit", junit)
	if code != 1 {
		t.Errorf("exit %d, want 1 (go test's own status):\n%s", code, out)
	}
	// -json output is shown as text
	if strings.Contains(out, `"Action"`) || !strings.Contains(out, "--- FAIL: TestSubtracts") {
		t.Errorf("go test -json output not shown as text:\n%s", out)
	}
	d := readJUnit(t, junit)
	want := map[string]string{"devstack.bare/plain": "pass"}
	for _, c := range []string{"TestAdds=pass", "TestSubtracts=fail", "TestDivides=skip", "TestTable=pass", "TestTable/one=pass", "TestTable/two=pass"} {
		name, st, _ := strings.Cut(c, "=")
		want["example.com/calc/"+name] = st
	}
	got := d.cases()
	sameCases(t, got, want, junit)
	if n := len(d.Suites); n != 3 { // the package twice (one per entry) and devstack's own
		t.Errorf("%d suites, want 3", n)
	}
	if d.Failures != 2 {
		t.Errorf("testsuites failures=%d, want 2", d.Failures)
	}
}

const jestTests = `
describe('cart', () => {
  test('adds an item', () => { expect(1 + 1).toBe(2); });
  test('applies a discount', () => { expect(10 * 0.9).toBe(8); });
  test.skip('ships abroad', () => {});
});
test('top level', () => {});
`

// jest's tests are the JUnit cases when it writes its JSON results into $DEVSTACK_REPORT_DIR.
func TestJUnitHasJestCases(t *testing.T) {
	jest := filepath.Join(repoRoot(t), "sample-services", "users", "node_modules", "jest", "bin", "jest.js")
	if _, err := os.Stat(jest); err != nil {
		if os.Getenv("DEVSTACK_REQUIRE_ALL") == "1" {
			t.Fatalf("DEVSTACK_REQUIRE_ALL=1: no jest (make -C sample-services setup): %v", err)
		}
		t.Skipf("no jest in sample-services/users (make -C sample-services setup): %v", err)
	}
	dir, _ := stackDir(t, bareStack+`
tests:
  - name: cart
    dir: web
    command: node `+jest+` --ci --rootDir . --json --outputFile=$DEVSTACK_REPORT_DIR/jest.json
`)
	writeFiles(t, filepath.Join(dir, "web"), map[string]string{
		"package.json":        `{"name": "web", "private": true}`,
		"test/cart.test.js":   jestTests,
		"test/broken.test.js": "require('./no-such-module');\n",
	})
	junit := filepath.Join(dir, "junit.xml")
	out, code := run(t, dir, "test", "--junit", junit)
	if code != 1 {
		t.Errorf("exit %d, want 1 (jest's own status):\n%s", code, out)
	}
	got := readJUnit(t, junit).cases()
	sameCases(t, got, map[string]string{
		"test/cart.test.js/cart adds an item":       "pass",
		"test/cart.test.js/cart applies a discount": "fail",
		"test/cart.test.js/cart ships abroad":       "skip",
		"test/cart.test.js/top level":               "pass",
		"test/broken.test.js/test/broken.test.js":   "pass", // an <error> (the file did not run), checked below
	}, junit)
	b, _ := os.ReadFile(junit)
	if !strings.Contains(string(b), "no-such-module") {
		t.Errorf("the file that failed to run is not reported:\n%s", b)
	}
}
