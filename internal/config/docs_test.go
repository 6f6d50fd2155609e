package config

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// exampleMarker is the line before a ```yaml block that is not a whole devstack.yaml:
//
//	<!-- example: under services.NAME -->   the block is the body of service NAME
//	<!-- example: needs services a, b -->    services a and b exist (command: "true")
//
// Both may be given, separated by ";".
var exampleMarker = regexp.MustCompile(`^<!-- example: (.*) -->$`)

type docExample struct {
	file   string
	line   int // of the ```yaml fence
	marker string
	body   string
}

func docExamples(t *testing.T) []docExample {
	t.Helper()
	files, _ := filepath.Glob("../../docs/*.md")
	files = append(files, "../../README.md")
	var out []docExample
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(b), "\n")
		for i := 0; i < len(lines); i++ {
			if strings.TrimSpace(lines[i]) != "```yaml" {
				continue
			}
			ex := docExample{file: filepath.Base(f), line: i + 1}
			if i > 0 {
				if m := exampleMarker.FindStringSubmatch(strings.TrimSpace(lines[i-1])); m != nil {
					ex.marker = m[1]
				}
			}
			j := i + 1
			for ; j < len(lines) && strings.TrimSpace(lines[j]) != "```"; j++ {
			}
			if j == len(lines) {
				t.Fatalf("%s:%d: unterminated ```yaml block", f, i+1)
			}
			ex.body = strings.Join(lines[i+1:j], "\n") + "\n"
			out = append(out, ex)
			i = j
		}
	}
	return out
}

// wrap turns an example into a whole devstack.yaml as its marker says.
func (ex docExample) wrap() (string, error) {
	src := ex.body
	var under string
	var needs []string
	if ex.marker != "" {
		for _, d := range strings.Split(ex.marker, ";") {
			d = strings.TrimSpace(d)
			switch {
			case strings.HasPrefix(d, "under services."):
				under = strings.TrimPrefix(d, "under services.")
			case strings.HasPrefix(d, "needs services "):
				for _, s := range strings.Split(strings.TrimPrefix(d, "needs services "), ",") {
					needs = append(needs, strings.TrimSpace(s))
				}
			default:
				return "", fmt.Errorf("unknown example marker %q", d)
			}
		}
	}
	var stubs strings.Builder
	for _, s := range needs {
		fmt.Fprintf(&stubs, "  %s: {command: \"true\"}\n", s)
	}
	switch {
	case under != "":
		var b strings.Builder
		b.WriteString("services:\n" + stubs.String() + "  " + under + ":\n    command: \"true\"\n")
		for _, l := range strings.SplitAfter(strings.TrimSuffix(src, "\n"), "\n") {
			b.WriteString("    " + l)
		}
		return b.String() + "\n", nil
	case len(needs) > 0:
		if regexp.MustCompile(`(?m)^services:`).MatchString(src) {
			return "", fmt.Errorf("\"needs services\" on an example that has services: add them to the example instead")
		}
		return src + "services:\n" + stubs.String(), nil
	}
	return src, nil
}

// Every ```yaml example in README.md and docs/*.md loads without errors or warnings: the README's first
// example did not (scopes: [orders:write] is a mapping to YAML). Examples are loaded in testdata/valid,
// which has the directories and files they name.
func TestDocExamplesValidate(t *testing.T) {
	examples := docExamples(t)
	if len(examples) < 10 {
		t.Fatalf("found only %d yaml examples in README.md and docs/*.md", len(examples))
	}
	env := map[string]string{"JWT_SECRET": "a-secret-of-at-least-32-bytes-for-hs256"}
	for _, ex := range examples {
		t.Run(fmt.Sprintf("%s:%d", ex.file, ex.line), func(t *testing.T) {
			src, err := ex.wrap()
			if err != nil {
				t.Fatal(err)
			}
			c, err := LoadBytes("devstack.yaml", []byte(src), "testdata/valid", env)
			if err != nil {
				t.Fatalf("%s:%d: the example does not validate (loaded as below):\n%v\n---\n%s", ex.file, ex.line, err, src)
			}
			if len(c.Warnings) > 0 && !strings.Contains(ex.marker, "warns") {
				t.Errorf("%s:%d: the example gives warnings:\n%s", ex.file, ex.line, strings.Join(c.Warnings, "\n"))
			}
		})
	}
}
