package procinfo

import (
	"bytes"
	"encoding/binary"
)

// parseProcArgs2 reads macOS's kern.procargs2 buffer: a native-endian int32 argc, the executable path,
// NUL padding, argc NUL-terminated arguments, then the environment, NUL-terminated entries up to an
// empty one or the end.
func parseProcArgs2(b []byte, order binary.ByteOrder) (argv, env []string, ok bool) {
	if len(b) < 4 {
		return nil, nil, false
	}
	argc := int(int32(order.Uint32(b)))
	b = b[4:]
	i := bytes.IndexByte(b, 0) // end of the executable path
	if argc < 0 || i < 0 {
		return nil, nil, false
	}
	b = b[i:]
	for len(b) > 0 && b[0] == 0 {
		b = b[1:]
	}
	next := func() (string, bool) {
		if len(b) == 0 {
			return "", false
		}
		j := bytes.IndexByte(b, 0)
		if j < 0 {
			j = len(b)
		}
		s := string(b[:j])
		b = b[min(j+1, len(b)):]
		return s, true
	}
	for range argc {
		s, more := next()
		if !more {
			return nil, nil, false
		}
		argv = append(argv, s)
	}
	for {
		s, more := next()
		if !more || s == "" {
			return argv, env, true
		}
		env = append(env, s)
	}
}
