// Package events defines the messages the scorer reads and writes; sample-services/schemas is their
// contract (orders.placed.avsc and orders.scored.avsc in the registry, orders.dlq.schema.json for the
// JSON dead letters). Package codec maps them to and from Avro.
package events

import (
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Topics and headers shared by every service in the sample.
const (
	TopicPlaced = "orders.placed"
	TopicScored = "orders.scored"
	TopicDLQ    = "orders.dlq"

	HeaderCorrelationID = "correlation-id"
	HeaderContentType   = "content-type"
	HeaderDLQError      = "dlq-error"

	// ContentTypeAvro is the content-type header of the Avro records (Confluent-framed: the schema id
	// in the value says which schema); the dead letters are application/json.
	ContentTypeAvro = "avro/binary"

	SubjectPlaced = TopicPlaced + "-value" // TopicNameStrategy, as devstack.yaml registry.subjects names them
	SubjectScored = TopicScored + "-value"

	SchemaVersion = 1
)

// Item is one line of an order.
type Item struct {
	SKU            string `json:"sku"`
	Quantity       int64  `json:"quantity"`
	UnitPriceCents int64  `json:"unit_price_cents"`
}

// OrderPlaced is the value of an orders.placed record.
type OrderPlaced struct {
	SchemaVersion   int       `json:"schema_version"`
	OrderID         string    `json:"order_id"`
	UserID          string    `json:"user_id"`
	Items           []Item    `json:"items"`
	TotalCents      int64     `json:"total_cents"`
	Currency        string    `json:"currency"`
	ShippingCountry string    `json:"shipping_country,omitempty"`
	PlacedAt        time.Time `json:"placed_at"`
}

var (
	uuidRe     = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	currencyRe = regexp.MustCompile(`^[A-Z]{3}$`)
)

// Validate reports what makes o unusable; decoding alone accepts e.g. a missing user_id.
func (o *OrderPlaced) Validate() error {
	var errs []error
	if o.SchemaVersion != SchemaVersion {
		errs = append(errs, fmt.Errorf("schema_version %d is not supported (want %d)", o.SchemaVersion, SchemaVersion))
	}
	if !uuidRe.MatchString(o.OrderID) {
		errs = append(errs, fmt.Errorf("order_id %q is not a UUID", o.OrderID))
	}
	if !uuidRe.MatchString(o.UserID) {
		errs = append(errs, fmt.Errorf("user_id %q is not a UUID", o.UserID))
	}
	if len(o.Items) == 0 {
		errs = append(errs, errors.New("items is empty"))
	}
	for i, it := range o.Items {
		if it.SKU == "" || it.Quantity < 1 || it.UnitPriceCents < 0 {
			errs = append(errs, fmt.Errorf("items[%d] is invalid (sku, quantity >= 1, unit_price_cents >= 0)", i))
		}
	}
	if o.TotalCents < 0 {
		errs = append(errs, errors.New("total_cents is negative"))
	}
	if !currencyRe.MatchString(o.Currency) {
		errs = append(errs, fmt.Errorf("currency %q is not an ISO 4217 code", o.Currency))
	}
	if o.PlacedAt.IsZero() {
		errs = append(errs, errors.New("placed_at is missing"))
	}
	return errors.Join(errs...)
}

// Reason explains the points one rule added to a score.
type Reason struct {
	Rule   string `json:"rule"`
	Points int    `json:"points"`
	Detail string `json:"detail"`
}

// Window summarises the user's recent orders the score took into account.
type Window struct {
	Seconds    int64 `json:"seconds"`
	Orders     int   `json:"orders"`
	SpendCents int64 `json:"spend_cents"`
}

// OrderScored is the value of an orders.scored record.
type OrderScored struct {
	SchemaVersion int       `json:"schema_version"`
	OrderID       string    `json:"order_id"`
	UserID        string    `json:"user_id"`
	Score         int       `json:"score"`
	Decision      string    `json:"decision"`
	Reasons       []Reason  `json:"reasons"`
	TotalCents    int64     `json:"total_cents"`
	Currency      string    `json:"currency"`
	Window        Window    `json:"window"`
	PlacedAt      time.Time `json:"placed_at"`
	ScoredAt      time.Time `json:"scored_at"`
}

// DeadLetter is the value of an orders.dlq record.
type DeadLetter struct {
	SourceTopic   string    `json:"source_topic"`
	Partition     int32     `json:"partition"`
	Offset        int64     `json:"offset"`
	Key           *string   `json:"key"`
	ConsumerGroup string    `json:"consumer_group"`
	Error         string    `json:"error"`
	Value         string    `json:"value"`
	ValueBase64   []byte    `json:"value_base64"`
	FailedAt      time.Time `json:"failed_at"`
}
