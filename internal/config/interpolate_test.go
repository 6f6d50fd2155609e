package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestInterpolate(t *testing.T) {
	vars := map[string]string{"A": "a", "EMPTY": "", "N": "3", "NESTED": "${A}"}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	tests := []struct {
		in, want string
		unset    []string
		err      string
	}{
		{in: "plain", want: "plain"},
		{in: "${A}", want: "a"},
		{in: "x${A}y${A}z", want: "xayaz"},
		{in: "${MISSING}", want: "", unset: []string{"MISSING"}},
		{in: "${EMPTY}", want: ""},
		{in: "${MISSING:-def}", want: "def"},
		{in: "${EMPTY:-def}", want: "def"},
		{in: "${EMPTY-def}", want: ""},
		{in: "${MISSING-def}", want: "def"},
		{in: "${A:-def}", want: "a"},
		{in: "${MISSING:-${A}-${N}}", want: "a-3"},
		{in: "${MISSING:-}", want: ""},
		{in: "${MISSING:-a:b}c", want: "a:bc"},
		{in: "${A:+alt}", want: "alt"},
		{in: "${EMPTY:+alt}", want: ""},
		{in: "${EMPTY+alt}", want: "alt"},
		{in: "${MISSING+alt}", want: ""},
		{in: "${A:?must}", want: "a"},
		{in: "${EMPTY?must}", want: ""},
		{in: "${MISSING:?set MISSING please}", err: "required variable MISSING is not set: set MISSING please"},
		{in: "${EMPTY:?}", err: "required variable EMPTY is empty: set it in the environment or in the env file"},
		{in: "$$", want: "$"},
		{in: "$${A}", want: "${A}"},
		{in: "$$$${A}", want: "$${A}"},
		{in: "$A and $ alone and $", want: "$A and $ alone and $"},
		{in: "${NESTED}", want: "${A}"}, // values are not expanded again
		{in: "${PORT} ${PORT:-80} ${DATABASE_URL}", want: "${PORT} ${PORT:-80} ${DATABASE_URL}"},
		{in: "${SCHEMA_REGISTRY_URL}/subjects", want: "${SCHEMA_REGISTRY_URL}/subjects"},
		{in: "${A", err: `unterminated "${A"`},
		{in: "${MISSING:-${A}", err: "unterminated"},
		{in: "${}", err: `invalid variable "${}"`},
		{in: "${1A}", err: `invalid variable "${1A}"`},
		{in: "${A B}", err: `invalid expression "${A B}"`},
		{in: "${A:x}", err: `invalid expression "${A:x}"`},
		{in: strings.Repeat("${X:-", 20) + strings.Repeat("}", 20), err: "nested more than"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			budget := MaxExpanded
			r, err := interpolate(tt.in, lookup, &budget)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("interpolate(%q) error = %v, want %q", tt.in, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("interpolate(%q): %v", tt.in, err)
			}
			if r.out != tt.want || !reflect.DeepEqual(r.unset, tt.unset) {
				t.Errorf("interpolate(%q) = %q (unset %v), want %q (unset %v)", tt.in, r.out, r.unset, tt.want, tt.unset)
			}
		})
	}
}

func TestParseDotEnv(t *testing.T) {
	src := "# comment\n\n" +
		"A=1\n" +
		"export B = two words \n" +
		"C='${A} literal'\n" +
		"D=\"x\\ny \\\"q\\\" ${A} \\$A $$\"\n" +
		"E=${A}-${PROC}\n" +
		"F=val # comment\n" +
		"G=\n" +
		"H=a=b\r\n" +
		"\tI=indented\n"
	budget := MaxExpanded
	got, errs := parseDotEnv([]byte(src), map[string]string{"PROC": "p", "A": "from-process"}, &budget)
	if len(errs) > 0 {
		t.Fatalf("errors: %+v", errs)
	}
	want := map[string]string{
		"A": "1", "B": "two words", "C": "${A} literal", "D": "x\ny \"q\" from-process $A $",
		"E": "from-process-p", "F": "val", "G": "", "H": "a=b", "I": "indented",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseDotEnv =\n%q\nwant\n%q", got, want)
	}
	_, errs = parseDotEnv([]byte("OK=1\nnot a pair\n1X=2\nQ=\"open\nR='open\nS=${NOPE:?needed}\n"), nil, &budget)
	var lines []int
	for _, e := range errs {
		lines = append(lines, e.line)
	}
	if !reflect.DeepEqual(lines, []int{2, 3, 4, 5, 6}) {
		t.Errorf("error lines = %v (%+v), want 2-6", lines, errs)
	}
}

// A plain scalar that was interpolated is typed again, like YAML would type the text; a quoted one
// stays a string but may stand for a number where one is expected.
func TestInterpolatedTypes(t *testing.T) {
	env := map[string]string{"N": "4", "T": "true", "P": "8081", "D": "2s"}
	src := "services:\n  a:\n    command: x\n    replicas: ${N}\n    disabled: ${T}\n    port: \"${P}\"\n    stop_grace: ${D}\n    env:\n      N: ${N}\n"
	c, err := LoadBytes("devstack.yaml", []byte(src), t.TempDir(), env)
	if err != nil {
		t.Fatal(err)
	}
	s := c.Services["a"]
	if s.Replicas != 4 || !s.Disabled || s.Port != 8081 || s.StopGrace.D().String() != "2s" || s.Env["N"] != "4" {
		t.Errorf("got replicas %d disabled %v port %d stop_grace %v env %v", s.Replicas, s.Disabled, s.Port, s.StopGrace.D(), s.Env)
	}
	// Interpolation cannot inject YAML structure.
	env["N"] = "1\nevil: true"
	_, err = LoadBytes("devstack.yaml", []byte("services:\n  a:\n    command: x\n    replicas: ${N}\n"), t.TempDir(), env)
	if err == nil || !strings.Contains(err.Error(), "devstack.yaml:4:15: services.a.replicas: must be an integer") {
		t.Errorf("got %v", err)
	}
}
