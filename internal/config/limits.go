package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"

	"github.com/goccy/go-yaml/token"
)

// Limits on what a config file may make devstack do. A real devstack.yaml nests 10 to 15 levels,
// is a few KiB and expands a handful of variables; these are far above that and far below what
// would hurt the machine.
const (
	// MaxNesting is how deeply lists and mappings may sit inside each other. It is checked on the
	// tokens, before the YAML parser (whose memory grows with the square of the depth) runs.
	MaxNesting = 64
	// MaxTokens is how many YAML tokens (keys, values, indicators) a file may have. The parser's
	// time and memory grow faster than the number of tokens; 100,000 is some 10,000 services.
	MaxTokens = 100_000
	// MaxEntries is how many keys one block mapping may have: the YAML parser's memory grows with
	// the square of it (20,000 keys took 1.6 GB).
	MaxEntries = 5000
	// MaxExpanded is how many bytes the values of ${VAR} may add up to over one load (the file
	// and its env file together): four times the largest file.
	MaxExpanded = 4 * MaxFileSize
)

// blockLevel is an open block collection: the column of its entries and whether it is a list.
type blockLevel struct {
	col  int
	seq  bool
	keys int // entries so far, for a mapping
}

// tooDeep returns the first token at which lists and mappings nest more than MaxNesting levels, or
// a block mapping gets more than MaxEntries keys, or nil. Flow collections ([ ] { }) count exactly; block collections are followed by the columns of
// their indicators ("- ", "? " and the key before ":"), counting a list written at the same indent
// as its mapping key as the level it is. It never undercounts what the parser nests.
func tooDeep(tokens token.Tokens) (at *token.Token, entries bool) {
	var block []blockLevel
	flow := 0
	var prev *token.Token // previous token that is not a comment
	for _, tk := range tokens {
		if tk == nil || tk.Position == nil {
			continue
		}
		switch tk.Type {
		case token.CommentType:
			continue
		case token.DocumentHeaderType, token.DocumentEndType:
			block, flow = block[:0], 0
		case token.SequenceStartType, token.MappingStartType:
			flow++
		case token.SequenceEndType, token.MappingEndType:
			if flow > 0 {
				flow--
			}
		case token.SequenceEntryType, token.MappingKeyType, token.MappingValueType:
			if flow > 0 {
				break
			}
			lv := blockLevel{col: tk.Position.Column, seq: tk.Type == token.SequenceEntryType}
			newKey, key := tk.Type == token.MappingKeyType, tk // "? key"
			if tk.Type == token.MappingValueType && prev != nil && prev.Position != nil && prev.Position.Line == tk.Position.Line {
				lv.col, newKey, key = prev.Position.Column, true, prev // "key:" at the key's column
			} // else ": value" of a "? key" on a line of its own
			block = enterBlock(block, lv)
			if top := &block[len(block)-1]; newKey {
				if top.keys++; top.keys > MaxEntries {
					return key, true
				}
			}
		}
		if len(block)+flow > MaxNesting {
			if tk.Type == token.MappingValueType {
				return prev, false // point at the key
			}
			return tk, false
		}
		prev = tk
	}
	return nil, false
}

// enterBlock updates the open block collections for an indicator at lv.
func enterBlock(block []blockLevel, lv blockLevel) []blockLevel {
	for len(block) > 0 {
		top := block[len(block)-1]
		switch {
		case top.col > lv.col:
			block = block[:len(block)-1] // that collection ended
			continue
		case top.col < lv.col:
			return append(block, lv) // nested inside top
		case top.seq == lv.seq:
			return block // another entry of top
		case lv.seq:
			return append(block, lv) // key:\n- item: a list at its key's indent
		default:
			block = block[:len(block)-1] // a key after such a list: the list ended
			continue
		}
	}
	return append(block, lv)
}

// readLimited reads a file the config names (devstack.yaml itself, env_file, pem_file): only a
// regular file, and at most limit bytes whatever Stat says (/dev/zero has size 0). A FIFO is
// refused before it is opened, and the open does not block should one appear after the check.
func readLimited(path string, limit int64) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := regular(st); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := regular(st); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return data, nil
}

func regular(st fs.FileInfo) error {
	m := st.Mode()
	if m.IsRegular() {
		return nil
	}
	if m.IsDir() {
		return errors.New("is a directory")
	}
	what := "a special file"
	switch {
	case m&fs.ModeNamedPipe != 0:
		what = "a named pipe"
	case m&fs.ModeSocket != 0:
		what = "a socket"
	case m&fs.ModeDevice != 0:
		what = "a device"
	}
	return fmt.Errorf("not a regular file (%s); point at a regular file", what)
}
