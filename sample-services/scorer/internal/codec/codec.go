// Package codec reads and writes the sample's Avro records through the schema registry: values are
// Confluent-framed (magic byte 0, 4-byte schema id, Avro binary). orders.placed is decoded with the
// writer's schema, fetched by id from the registry once and kept; orders.scored is encoded with the
// latest version of its subject, looked up again every RefreshEvery so a newly registered compatible
// version is used without a restart. devstack registers the schema files (devstack.yaml
// registry.subjects): the scorer never registers anything.
package codec

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/devstack-dev/devstack/sample-services/scorer/internal/events"
)

// Options configure a Codec.
type Options struct {
	RegistryURL   string        // SCHEMA_REGISTRY_URL, e.g. http://127.0.0.1:8081
	ScoredSubject string        // subject whose latest version encodes orders.scored (e.g. orders.scored-value)
	RefreshEvery  time.Duration // how long a looked-up latest version is used before asking again; 0: every record
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Codec decodes orders.placed and encodes orders.scored; it is safe for concurrent use.
type Codec struct {
	opts  Options
	cl    *sr.Client
	serde sr.Serde

	mu        sync.Mutex
	placedIDs map[int]bool // ids whose decoder is in serde
	scoredID  int          // 0: not looked up yet
	scoredAt  time.Time
}

// ErrUndecodable wraps why a record can never be decoded (not framed, unknown id, not the schema's
// Avro): such a record is a poison message. Any other error is transient (the registry is down).
var ErrUndecodable = errors.New("undecodable")

// New builds a Codec; it does not touch the network.
func New(opts Options) (*Codec, error) {
	if opts.RegistryURL == "" {
		return nil, errors.New("codec: no schema registry (set SCHEMA_REGISTRY_URL; devstack injects it when registry: is enabled)")
	}
	if opts.ScoredSubject == "" {
		return nil, errors.New("codec: ScoredSubject is required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	cl, err := sr.NewClient(sr.URLs(opts.RegistryURL), sr.HTTPClient(&http.Client{Timeout: 5 * time.Second}))
	if err != nil {
		return nil, fmt.Errorf("codec: schema registry client for %s: %w", opts.RegistryURL, err)
	}
	return &Codec{opts: opts, cl: cl, placedIDs: map[int]bool{}}, nil
}

// SchemaID returns the schema id a Confluent-framed value names.
func SchemaID(value []byte) (int, error) {
	id, _, err := new(sr.ConfluentHeader).DecodeID(value)
	if err != nil {
		return 0, fmt.Errorf("%w: not a Confluent-framed record (magic byte 0, 4-byte schema id): %v", ErrUndecodable, err)
	}
	return id, nil
}

// DecodePlaced decodes an orders.placed value with the schema it was written with.
func (c *Codec) DecodePlaced(ctx context.Context, value []byte) (events.OrderPlaced, error) {
	id, err := SchemaID(value)
	if err != nil {
		return events.OrderPlaced{}, err
	}
	if err := c.learnPlaced(ctx, id); err != nil {
		return events.OrderPlaced{}, err
	}
	var w placedWire
	if err := c.serde.Decode(value, &w); err != nil {
		return events.OrderPlaced{}, fmt.Errorf("%w: schema id %d: %v", ErrUndecodable, id, err)
	}
	return w.event()
}

func (c *Codec) learnPlaced(ctx context.Context, id int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.placedIDs[id] {
		return nil
	}
	s, err := c.cl.SchemaByID(ctx, id)
	if err != nil {
		if re := (*sr.ResponseError)(nil); errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
			return fmt.Errorf("%w: schema id %d is not in the registry: %v", ErrUndecodable, id, err)
		}
		return fmt.Errorf("fetch schema %d from %s: %w", id, c.opts.RegistryURL, err)
	}
	if s.Type != sr.TypeAvro {
		return fmt.Errorf("%w: schema id %d is %s, not AVRO", ErrUndecodable, id, s.Type)
	}
	schema, err := avro.Parse(s.Schema)
	if err != nil {
		return fmt.Errorf("%w: schema id %d: %v", ErrUndecodable, id, err)
	}
	// Decoding with the writer's schema into placedWire: fields the struct lacks (a newer optional
	// field) are skipped, fields the writer lacks keep their zero value.
	c.serde.Register(id, placedWire{}, sr.DecodeFn(func(b []byte, v any) error { return avro.Unmarshal(schema, b, v) }))
	c.placedIDs[id] = true
	return nil
}

// EncodeScored encodes s with the latest version of the scored subject and returns the framed value.
func (c *Codec) EncodeScored(ctx context.Context, s events.OrderScored) ([]byte, error) {
	if err := c.refreshScored(ctx); err != nil {
		return nil, err
	}
	return c.serde.Encode(scoredWireOf(s))
}

// ScoredID is the schema id orders.scored is written with now (0 before the first EncodeScored).
func (c *Codec) ScoredID() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.scoredID
}

func (c *Codec) refreshScored(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.opts.Now()
	if c.scoredID != 0 && now.Sub(c.scoredAt) < c.opts.RefreshEvery {
		return nil
	}
	latest, err := c.cl.SchemaByVersion(ctx, c.opts.ScoredSubject, -1)
	if err != nil {
		if c.scoredID != 0 {
			// Keep writing with the version we have; the registry may be restarting.
			c.scoredAt = now
			return nil
		}
		return fmt.Errorf("look up the latest %s in %s (is it in devstack.yaml registry.subjects?): %w", c.opts.ScoredSubject, c.opts.RegistryURL, err)
	}
	c.scoredAt = now
	if latest.ID == c.scoredID {
		return nil
	}
	schema, err := avro.Parse(latest.Schema.Schema)
	if err != nil {
		return fmt.Errorf("%s version %d (id %d): %w", c.opts.ScoredSubject, latest.Version, latest.ID, err)
	}
	c.serde.Register(latest.ID, scoredWire{}, sr.EncodeFn(func(v any) ([]byte, error) { return avro.Marshal(schema, v) }))
	c.scoredID = latest.ID
	return nil
}

// The Avro shapes of the records (dates are RFC 3339 strings in the schemas).
type (
	itemWire struct {
		SKU            string `avro:"sku"`
		Quantity       int64  `avro:"quantity"`
		UnitPriceCents int64  `avro:"unit_price_cents"`
	}
	placedWire struct {
		SchemaVersion   int        `avro:"schema_version"`
		OrderID         string     `avro:"order_id"`
		UserID          string     `avro:"user_id"`
		Items           []itemWire `avro:"items"`
		TotalCents      int64      `avro:"total_cents"`
		Currency        string     `avro:"currency"`
		ShippingCountry *string    `avro:"shipping_country"`
		PlacedAt        string     `avro:"placed_at"`
	}
	reasonWire struct {
		Rule   string `avro:"rule"`
		Points int    `avro:"points"`
		Detail string `avro:"detail"`
	}
	windowWire struct {
		Seconds    int64 `avro:"seconds"`
		Orders     int   `avro:"orders"`
		SpendCents int64 `avro:"spend_cents"`
	}
	scoredWire struct {
		SchemaVersion int          `avro:"schema_version"`
		OrderID       string       `avro:"order_id"`
		UserID        string       `avro:"user_id"`
		Score         int          `avro:"score"`
		Decision      string       `avro:"decision"`
		Reasons       []reasonWire `avro:"reasons"`
		TotalCents    int64        `avro:"total_cents"`
		Currency      string       `avro:"currency"`
		Window        windowWire   `avro:"window"`
		PlacedAt      string       `avro:"placed_at"`
		ScoredAt      string       `avro:"scored_at"`
	}
)

func (w placedWire) event() (events.OrderPlaced, error) {
	o := events.OrderPlaced{
		SchemaVersion: w.SchemaVersion,
		OrderID:       w.OrderID,
		UserID:        w.UserID,
		TotalCents:    w.TotalCents,
		Currency:      w.Currency,
	}
	for _, it := range w.Items {
		o.Items = append(o.Items, events.Item{SKU: it.SKU, Quantity: it.Quantity, UnitPriceCents: it.UnitPriceCents})
	}
	if w.ShippingCountry != nil {
		o.ShippingCountry = *w.ShippingCountry
	}
	if w.PlacedAt != "" {
		t, err := time.Parse(time.RFC3339Nano, w.PlacedAt)
		if err != nil {
			return o, fmt.Errorf("%w: placed_at %q is not an RFC 3339 date-time", ErrUndecodable, w.PlacedAt)
		}
		o.PlacedAt = t
	}
	return o, nil
}

func scoredWireOf(s events.OrderScored) scoredWire {
	w := scoredWire{
		SchemaVersion: s.SchemaVersion,
		OrderID:       s.OrderID,
		UserID:        s.UserID,
		Score:         s.Score,
		Decision:      s.Decision,
		Reasons:       make([]reasonWire, 0, len(s.Reasons)),
		TotalCents:    s.TotalCents,
		Currency:      s.Currency,
		Window:        windowWire{Seconds: s.Window.Seconds, Orders: s.Window.Orders, SpendCents: s.Window.SpendCents},
		PlacedAt:      s.PlacedAt.UTC().Format(rfc3339Millis),
		ScoredAt:      s.ScoredAt.UTC().Format(rfc3339Millis),
	}
	for _, r := range s.Reasons {
		w.Reasons = append(w.Reasons, reasonWire{Rule: r.Rule, Points: r.Points, Detail: r.Detail})
	}
	return w
}

// rfc3339Millis is how every service in the sample writes dates (JavaScript's toISOString).
const rfc3339Millis = "2006-01-02T15:04:05.000Z07:00"

// PlacedValue encodes o as an orders.placed value with schema id (for tests and tools: the users
// service is the producer).
func PlacedValue(schema avro.Schema, id int, o events.OrderPlaced) ([]byte, error) {
	w := placedWire{
		SchemaVersion: o.SchemaVersion, OrderID: o.OrderID, UserID: o.UserID, TotalCents: o.TotalCents,
		Currency: o.Currency, PlacedAt: o.PlacedAt.UTC().Format(rfc3339Millis), Items: []itemWire{},
	}
	for _, it := range o.Items {
		w.Items = append(w.Items, itemWire{SKU: it.SKU, Quantity: it.Quantity, UnitPriceCents: it.UnitPriceCents})
	}
	if o.ShippingCountry != "" {
		w.ShippingCountry = &o.ShippingCountry
	}
	return sr.Encode(w, new(sr.ConfluentHeader), id, nil, func(v any) ([]byte, error) { return avro.Marshal(schema, v) })
}

// DecodeScored decodes an orders.scored value written with schema (for tests and tools).
func DecodeScored(schema avro.Schema, value []byte) (events.OrderScored, error) {
	_, body, err := new(sr.ConfluentHeader).DecodeID(value)
	if err != nil {
		return events.OrderScored{}, err
	}
	var w scoredWire
	if err := avro.Unmarshal(schema, body, &w); err != nil {
		return events.OrderScored{}, err
	}
	s := events.OrderScored{
		SchemaVersion: w.SchemaVersion, OrderID: w.OrderID, UserID: w.UserID, Score: w.Score, Decision: w.Decision,
		TotalCents: w.TotalCents, Currency: w.Currency,
		Window: events.Window{Seconds: w.Window.Seconds, Orders: w.Window.Orders, SpendCents: w.Window.SpendCents},
	}
	for _, r := range w.Reasons {
		s.Reasons = append(s.Reasons, events.Reason{Rule: r.Rule, Points: r.Points, Detail: r.Detail})
	}
	s.PlacedAt, _ = time.Parse(time.RFC3339Nano, w.PlacedAt)
	s.ScoredAt, _ = time.Parse(time.RFC3339Nano, w.ScoredAt)
	return s, nil
}
