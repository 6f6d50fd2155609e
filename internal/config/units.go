package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written as "200ms", "30s", "1h" (a bare number means seconds).
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalText parses "1m30s" or a number of seconds.
func (d *Duration) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "" {
		*d = 0
		return nil
	}
	if n, err := strconv.ParseFloat(s, 64); err == nil || isNumeric(s) {
		if err != nil || math.IsNaN(n) || n < 0 || n*float64(time.Second) > math.MaxInt64/2 {
			return fmt.Errorf("invalid duration %q: must be a non-negative number of seconds or a duration like 30s", s)
		}
		*d = Duration(n * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q: use a number with a unit, like 500ms, 30s or 2h", s)
	}
	if v < 0 {
		return fmt.Errorf("invalid duration %q: must not be negative", s)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration as Go does ("1m30s").
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// ByteSize is a size written as "10MiB", "512KB", "1GB" or a bare number of bytes.
type ByteSize int64

var byteUnits = []struct {
	suffix string
	mult   int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1000}, {"mb", 1000 * 1000}, {"gb", 1000 * 1000 * 1000}, {"tb", 1000 * 1000 * 1000 * 1000},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"b", 1},
}

// UnmarshalText parses sizes like "64MiB" or "1048576".
func (s *ByteSize) UnmarshalText(b []byte) error {
	str := strings.ToLower(strings.TrimSpace(string(b)))
	if str == "" {
		*s = 0
		return nil
	}
	mult := int64(1)
	num := str
	for _, u := range byteUnits {
		if strings.HasSuffix(str, u.suffix) {
			mult = u.mult
			num = strings.TrimSpace(strings.TrimSuffix(str, u.suffix))
			break
		}
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(f) || f < 0 || f*float64(mult) > 1<<62 {
		return fmt.Errorf("invalid size %q: use a number with a unit, like 512KiB, 10MiB or 1GiB", string(b))
	}
	*s = ByteSize(f * float64(mult))
	return nil
}

// MarshalText writes the size in bytes.
func (s ByteSize) MarshalText() ([]byte, error) { return []byte(strconv.FormatInt(int64(s), 10)), nil }

// isNumeric is true for text that looks like a plain number (so "1e999" is a bad number, not a
// bad unit).
func isNumeric(s string) bool {
	s = strings.TrimLeft(s, "+-")
	return s != "" && strings.Trim(s, "0123456789.eE+-_") == ""
}
