package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/devstack-dev/devstack/internal/control"
	"github.com/devstack-dev/devstack/internal/event"
	"github.com/devstack-dev/devstack/internal/serde"
)

// schemaCache holds the schemas of the registry-framed records the Messages view shows, by id, fetched
// from the stack's schema registry (its REST API, at the address the stack publishes).
type schemaCache struct {
	// lookup resolves ids; nil until the stack publishes a registry (tests set it).
	lookup serde.Lookup
	reg    *serde.Registry // what lookup is when it came from the stack
	addr   string
	byID   map[int]schemaEntry
}

type schemaEntry struct {
	res     *serde.Resolved
	err     error
	pending bool
}

// schemaMsg is a fetched schema.
type schemaMsg struct {
	id  int
	res *serde.Resolved
	err error
}

// registry returns the lookup for the stack's registry; nil when the stack runs none.
func (m *Model) registry() serde.Lookup {
	c := &m.rec.schemas
	if c.lookup != nil && c.reg == nil {
		return c.lookup // set by a test
	}
	addr := control.EndpointsOf(m.state, "").Registry
	if addr == "" {
		return nil
	}
	if addr != c.addr || c.reg == nil {
		reg, err := serde.NewRegistry("http://" + addr)
		if err != nil {
			return nil
		}
		c.addr, c.reg, c.lookup, c.byID = addr, reg, reg, nil
	}
	return c.lookup
}

// fetchSchemas starts fetching the schemas of the framed keys and values of recs not known yet.
func (m *Model) fetchSchemas(recs []event.Message) tea.Cmd {
	lk := m.registry()
	if lk == nil {
		return nil
	}
	c := &m.rec.schemas
	if c.byID == nil {
		c.byID = map[int]schemaEntry{}
	}
	var cmds []tea.Cmd
	for _, rec := range recs {
		for _, b := range [][]byte{rec.Key, rec.Value} {
			f, err := serde.ParseFrame(b, false)
			if err != nil {
				continue
			}
			if e, ok := c.byID[f.ID]; ok && (e.err == nil || errors.Is(e.err, serde.ErrUnknownID)) {
				continue // known, unknown to the registry, or being fetched; a failed fetch is tried again
			}
			c.byID[f.ID] = schemaEntry{pending: true}
			id, ctx := f.ID, m.ctx
			cmds = append(cmds, func() tea.Msg {
				ctx, cancel := context.WithTimeout(ctx, callTimeout)
				defer cancel()
				res, err := lk.ByID(ctx, id)
				return schemaMsg{id: id, res: res, err: err}
			})
		}
	}
	return tea.Batch(cmds...)
}

func (m *Model) updateSchemas(msg schemaMsg) (tea.Cmd, bool) {
	c := &m.rec.schemas
	if c.byID == nil {
		return nil, false
	}
	c.byID[msg.id] = schemaEntry{res: msg.res, err: msg.err}
	if m.rec.fre != nil {
		// records of this schema may match the filter now that they decode
		_ = m.rec.setFilter(m.rec.filter)
	}
	return nil, m.tab == tabMessages
}

// typedValue is a key or value read through the registry.
type typedValue struct {
	framed bool   // in the registry's wire format, with a registry to ask
	json   []byte // decoded (nil when not)
	info   serde.Info
	note   string // why it is not decoded
}

// decodeTyped decodes b if it is framed and its schema is known; prefer is the subject to name.
func (m *Model) decodeTyped(b []byte, prefer string) typedValue {
	return m.rec.schemas.decode(b, prefer)
}

func (c *schemaCache) decode(b []byte, prefer string) typedValue {
	if c.lookup == nil {
		return typedValue{}
	}
	f, err := serde.ParseFrame(b, false)
	if err != nil {
		return typedValue{}
	}
	tv := typedValue{framed: true, info: serde.Info{ID: f.ID}}
	e, ok := c.byID[f.ID]
	switch {
	case !ok || e.pending:
		tv.note = fmt.Sprintf("schema id %d: loading…", f.ID)
	case errors.Is(e.err, serde.ErrUnknownID):
		tv.note = fmt.Sprintf("schema id %d is unknown to the registry", f.ID)
	case e.err != nil:
		tv.note = fmt.Sprintf("schema id %d: %v", f.ID, e.err)
	default:
		d, err := serde.DecodeWith(e.res, b, prefer)
		tv.info = d.Info
		if err != nil {
			tv.note = err.Error()
		} else {
			tv.json = d.JSON
		}
	}
	return tv
}

// label is "avro · orders-value v2 · id 7".
func (tv typedValue) label() string {
	parts := []string{strings.ToLower(string(tv.info.Type))}
	if tv.info.Subject != "" {
		parts = append(parts, fmt.Sprintf("%s v%d", tv.info.Subject, tv.info.Version))
	}
	parts = append(parts, fmt.Sprintf("id %d", tv.info.ID))
	if tv.info.Message != "" {
		parts = append(parts, tv.info.Message)
	}
	return strings.Join(parts, " · ")
}

// previewTyped is preview of a key or value, decoded when it can be.
func (m *Model) previewTyped(b []byte, prefer string) string {
	if tv := m.decodeTyped(b, prefer); tv.json != nil {
		return preview(tv.json)
	}
	return preview(b)
}
