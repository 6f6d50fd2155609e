package config

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// Interpolation rules (docs/config.md, "Variables"):
//
//	${VAR}          value of VAR; unset gives "" and a warning
//	${VAR:-word}    word when VAR is unset or empty      ${VAR-word}  word when VAR is unset
//	${VAR:?msg}     error when VAR is unset or empty      ${VAR?msg}   error when VAR is unset
//	${VAR:+word}    word when VAR is set and not empty    ${VAR+word}  word when VAR is set
//	$$              a literal $
//
// word may itself contain ${...}. A $ not followed by { or $ is kept as is, so `$HOME` in a command
// reaches the shell. Values come from the process environment first, then the env file.
// The variables devstack gives every process (PORT, DATABASE_URL, ...) are never interpolated:
// `${PORT}` stays in the text for the service's shell, which sees the per-replica value.

// injectedVars are set by the stack per process; they are left for the shell to expand.
var injectedVars = map[string]bool{
	"PORT": true, "DEVSTACK_SERVICE": true, "DEVSTACK_REPLICA": true, "DEVSTACK_STACK": true,
	"KAFKA_BROKERS": true, "DATABASE_URL": true, "GATEWAY_URL": true, "SCHEMA_REGISTRY_URL": true,
	"OTEL_EXPORTER_OTLP_ENDPOINT": true, "OTEL_EXPORTER_OTLP_PROTOCOL": true, "OTEL_SERVICE_NAME": true,
	"OTEL_RESOURCE_ATTRIBUTES": true,
}

// lookupFunc returns a variable's value and whether it is set.
type lookupFunc func(name string) (string, bool)

// interpResult is the outcome of interpolating one string.
type interpResult struct {
	out    string
	unset  []string // variables used without a default that were not set
	budget *int
}

const maxInterpDepth = 8

// errExpandedTooBig is returned once the values of all variables expanded in one load pass
// MaxExpanded bytes.
var errExpandedTooBig = fmt.Errorf("variables expand to more than %d bytes in total", MaxExpanded)

// interpolate expands s. It returns an error for malformed expressions and for ${VAR:?msg}.
// budget is how many bytes of variable values may still be written; it shrinks with every value
// written, and the expansion stops with errExpandedTooBig before it would go below zero.
func interpolate(s string, lookup lookupFunc, budget *int) (interpResult, error) {
	var r interpResult
	r.budget = budget
	out, err := expand(s, lookup, &r, 0)
	r.out = out
	return r, err
}

// spend takes n bytes of the value of name from the budget.
func (r *interpResult) spend(name string, n int) error {
	if n > *r.budget {
		*r.budget = -1
		return fmt.Errorf("%w (here ${%s}, %d bytes): use large variables in fewer places", errExpandedTooBig, name, n)
	}
	*r.budget -= n
	return nil
}

func expand(s string, lookup lookupFunc, r *interpResult, depth int) (string, error) {
	if depth > maxInterpDepth {
		return "", fmt.Errorf("variables nested more than %d deep", maxInterpDepth)
	}
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' || i+1 >= len(s) {
			b.WriteByte(c)
			i++
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i += 2
			continue
		case '{':
		default:
			b.WriteByte('$')
			i++
			continue
		}
		end := closingBrace(s, i+2)
		if end < 0 {
			return "", fmt.Errorf("unterminated %q: add the closing } (write $$ for a literal $)", abbreviate(s[i:]))
		}
		expr := s[i+2 : end]
		whole := s[i : end+1]
		i = end + 1
		name, op, word := splitExpr(expr)
		if !validVarName(name) {
			return "", fmt.Errorf("invalid variable %q: names are letters, digits and _, not starting with a digit", whole)
		}
		if op == "!" {
			return "", fmt.Errorf("invalid expression %q: use ${VAR}, ${VAR:-default}, ${VAR:?message} or ${VAR:+value}", whole)
		}
		if injectedVars[name] {
			b.WriteString(whole) // the shell of each process expands it
			continue
		}
		val, set := lookup(name)
		nonEmpty := set && val != ""
		switch op {
		case "":
			if !set {
				r.unset = append(r.unset, name)
			}
			if err := r.spend(name, len(val)); err != nil {
				return "", err
			}
			b.WriteString(val)
		case ":-", "-":
			if nonEmpty || (op == "-" && set) {
				if err := r.spend(name, len(val)); err != nil {
					return "", err
				}
				b.WriteString(val)
				continue
			}
			w, err := expand(word, lookup, r, depth+1)
			if err != nil {
				return "", err
			}
			b.WriteString(w)
		case ":+", "+":
			if nonEmpty || (op == "+" && set) {
				w, err := expand(word, lookup, r, depth+1)
				if err != nil {
					return "", err
				}
				b.WriteString(w)
			}
		case ":?", "?":
			if nonEmpty || (op == "?" && set) {
				if err := r.spend(name, len(val)); err != nil {
					return "", err
				}
				b.WriteString(val)
				continue
			}
			msg, err := expand(word, lookup, r, depth+1)
			if err != nil {
				return "", err
			}
			what := "is not set"
			if op == ":?" && set {
				what = "is empty"
			}
			if msg == "" {
				msg = "set it in the environment or in the env file"
			}
			return "", fmt.Errorf("required variable %s %s: %s", name, what, msg)
		}
	}
	return b.String(), nil
}

// closingBrace finds the } that closes a ${ whose body starts at from, honouring nested ${...}.
func closingBrace(s string, from int) int {
	depth := 0
	for j := from; j < len(s); j++ {
		switch {
		case s[j] == '$' && j+1 < len(s) && s[j+1] == '$':
			j++
		case s[j] == '$' && j+1 < len(s) && s[j+1] == '{':
			depth++
			j++
		case s[j] == '}':
			if depth == 0 {
				return j
			}
			depth--
		}
	}
	return -1
}

// splitExpr splits "NAME:-word" into NAME, ":-", "word".
func splitExpr(expr string) (name, op, word string) {
	n := 0
	for n < len(expr) && isVarChar(expr[n], n == 0) {
		n++
	}
	name, rest := expr[:n], expr[n:]
	for _, o := range []string{":-", ":?", ":+", "-", "?", "+"} {
		if strings.HasPrefix(rest, o) {
			return name, o, rest[len(o):]
		}
	}
	if rest != "" {
		if name == "" {
			return expr, "", "" // reported as an invalid name
		}
		return name, "!", rest // reported as an invalid expression
	}
	return name, "", ""
}

func isVarChar(c byte, first bool) bool {
	return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (!first && c >= '0' && c <= '9')
}

func validVarName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isVarChar(s[i], i == 0) {
			return false
		}
	}
	return true
}

func abbreviate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// dotEnvError is a problem on one line of an env file.
type dotEnvError struct {
	line, col int
	key, msg  string
}

// parseDotEnv reads KEY=VALUE lines: blank lines and # comments are skipped, "export " is allowed,
// values may be 'single quoted' (literal), "double quoted" (\n, \t, \", \\ and ${VAR} expanded) or
// bare (trimmed, a " #" starts a comment, ${VAR} expanded). ${VAR} sees the process environment
// first, then keys defined earlier in the file. budget is as for interpolate; once it is spent the
// rest of the file is not read.
func parseDotEnv(data []byte, env map[string]string, budget *int) (map[string]string, []dotEnvError) {
	vals := map[string]string{}
	var errs []dotEnvError
	lookup := func(k string) (string, bool) {
		if v, ok := env[k]; ok {
			return v, true
		}
		v, ok := vals[k]
		return v, ok
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	for i, raw := range strings.Split(string(data), "\n") {
		lineNo := i + 1
		line := strings.TrimRight(raw, "\r")
		trimmed := strings.TrimLeft(line, " \t")
		indent := len(line) - len(trimmed)
		if trimmed == "" || trimmed[0] == '#' {
			continue
		}
		if strings.HasPrefix(trimmed, "export ") || strings.HasPrefix(trimmed, "export\t") {
			rest := strings.TrimLeft(trimmed[len("export"):], " \t")
			indent += len(trimmed) - len(rest)
			trimmed = rest
		}
		eq := strings.IndexByte(trimmed, '=')
		if eq < 0 {
			errs = append(errs, dotEnvError{lineNo, indent + 1, "", fmt.Sprintf("expected KEY=VALUE, got %q", abbreviate(trimmed))})
			continue
		}
		key := strings.TrimRight(trimmed[:eq], " \t")
		if !validVarName(key) {
			errs = append(errs, dotEnvError{lineNo, indent + 1, "", fmt.Sprintf("invalid variable name %q: use letters, digits and _, not starting with a digit", key)})
			continue
		}
		valCol := indent + eq + 2
		v := strings.TrimLeft(trimmed[eq+1:], " \t")
		var val string
		switch {
		case strings.HasPrefix(v, "'"):
			end := strings.IndexByte(v[1:], '\'')
			if end < 0 {
				errs = append(errs, dotEnvError{lineNo, valCol, key, "unterminated ' quote (values must fit on one line)"})
				continue
			}
			val = v[1 : 1+end]
		case strings.HasPrefix(v, `"`):
			s, ok := unquoteDouble(v[1:])
			if !ok {
				errs = append(errs, dotEnvError{lineNo, valCol, key, `unterminated " quote (values must fit on one line; write \n for a newline)`})
				continue
			}
			r, err := interpolate(s, lookup, budget)
			if err != nil {
				errs = append(errs, dotEnvError{lineNo, valCol, key, err.Error()})
				if errors.Is(err, errExpandedTooBig) {
					return vals, errs
				}
				continue
			}
			val = r.out
		default:
			if k := strings.Index(v, " #"); k >= 0 {
				v = v[:k]
			} else if k := strings.Index(v, "\t#"); k >= 0 {
				v = v[:k]
			}
			r, err := interpolate(strings.TrimRight(v, " \t"), lookup, budget)
			if err != nil {
				errs = append(errs, dotEnvError{lineNo, valCol, key, err.Error()})
				if errors.Is(err, errExpandedTooBig) {
					return vals, errs
				}
				continue
			}
			val = r.out
		}
		vals[key] = val
	}
	return vals, errs
}

// unquoteDouble reads a double-quoted value up to its closing quote (s starts after the opening one).
func unquoteDouble(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			return b.String(), true
		case c == '\\' && i+1 < len(s):
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case '"', '\\':
				b.WriteByte(s[i])
			case '$':
				b.WriteString("$$")
			default:
				b.WriteByte('\\')
				b.WriteByte(s[i])
			}
		case c == '$' && i+1 < len(s) && s[i+1] == '$':
			b.WriteString("$$")
			i++
		default:
			b.WriteByte(c)
		}
	}
	return "", false
}
