package proxy

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// maxPEMFile bounds the key and certificate files the gateway reads (pem_file, its CA, its
// certificate and the dev issuer key): a PEM key or certificate chain is a few KiB.
const maxPEMFile = 1 << 20

// readPEMFile reads a small regular file. It refuses anything else before reading a byte: a FIFO
// would block the start (opening it does not wait for a writer here), a device such as /dev/zero
// never ends, and a file larger than maxPEMFile is read no further than that.
func readPEMFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (it is %s); point it at a PEM file", path, fileKind(st.Mode()))
	}
	b, err := io.ReadAll(io.LimitReader(f, maxPEMFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxPEMFile {
		return nil, fmt.Errorf("%s is larger than %d KiB; a PEM key or certificate is a few KiB", path, maxPEMFile>>10)
	}
	return b, nil
}

func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "not a plain file"
}
