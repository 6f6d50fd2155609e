package kafkaclients

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
)

// franzSRDriver is franz-go's pkg/sr: the registry client, sr.Serde and hamba/avro, with a schema
// reference. Subject <prefix>.address holds kc.go.Address; <prefix>.order-value holds kc.go.Order,
// which uses Address twice and names it through a reference to <prefix>.address version 1.
type franzSRDriver struct{}

const (
	srAddressSchema = `{"type":"record","name":"Address","namespace":"kc.go","fields":[` +
		`{"name":"street","type":"string"},{"name":"city","type":"string"}]}`
	srOrderSchema = `{"type":"record","name":"Order","namespace":"kc.go","fields":[` +
		`{"name":"id","type":"long"},` +
		`{"name":"ship_to","type":"kc.go.Address"},` +
		`{"name":"bill_to","type":["null","kc.go.Address"],"default":null},` +
		`{"name":"placed","type":{"type":"long","logicalType":"timestamp-millis"}}]}`
)

type srAddress struct {
	Street string `avro:"street"`
	City   string `avro:"city"`
}

type srOrder struct {
	ID     int64      `avro:"id"`
	ShipTo srAddress  `avro:"ship_to"`
	BillTo *srAddress `avro:"bill_to"`
	Placed time.Time  `avro:"placed"`
}

func srOrderOf(i int) srOrder {
	o := srOrder{
		ID:     int64(i),
		ShipTo: srAddress{Street: fmt.Sprintf("%d Main St", i), City: "Springfield"},
		Placed: time.UnixMilli(1_700_000_000_000 + int64(i)*1000).UTC(),
	}
	if i%2 == 1 {
		o.BillTo = &srAddress{Street: fmt.Sprintf("%d Side St", i), City: "Shelbyville"}
	}
	return o
}

func (franzSRDriver) run(ctx context.Context, t *testing.T, p regPhase) (regResult, error) {
	cl, err := sr.NewClient(sr.URLs(p.Registry))
	if err != nil {
		return regResult{}, err
	}
	topic := p.Prefix + ".order"
	orderSubject, addressSubject := topic+"-value", p.Prefix+".address"
	var res regResult
	if p.Kind == "roundtrip" {
		addr, err := cl.CreateSchema(ctx, addressSubject, sr.Schema{Schema: srAddressSchema, Type: sr.TypeAvro})
		if err != nil {
			return res, fmt.Errorf("register %s: %w", addressSubject, err)
		}
		order, err := cl.CreateSchema(ctx, orderSubject, sr.Schema{
			Schema:     srOrderSchema,
			Type:       sr.TypeAvro,
			References: []sr.SchemaReference{{Name: "kc.go.Address", Subject: addressSubject, Version: addr.Version}},
		})
		if err != nil {
			return res, fmt.Errorf("register %s (referencing %s version %d): %w", orderSubject, addressSubject, addr.Version, err)
		}
		if order.ID == addr.ID {
			return res, fmt.Errorf("%s and %s got the same id %d", orderSubject, addressSubject, order.ID)
		}
		// The registry knows who uses Address, and keeps it while it is used.
		users, err := cl.SchemaReferences(ctx, addressSubject, addr.Version)
		if err != nil {
			return res, fmt.Errorf("referencedby of %s version %d: %w", addressSubject, addr.Version, err)
		}
		if len(users) != 1 || users[0].ID != order.ID || users[0].Subject != orderSubject {
			return res, fmt.Errorf("referencedby of %s version %d: %+v, want %s (id %d) only", addressSubject, addr.Version, users, orderSubject, order.ID)
		}
		var rerr *sr.ResponseError
		err = cl.DeleteSchema(ctx, addressSubject, addr.Version, sr.SoftDelete)
		if !errors.As(err, &rerr) || rerr.ErrorCode != 42206 {
			return res, fmt.Errorf("deleting %s version %d, which %s references: %v, want error 42206 (schema is referenced)", addressSubject, addr.Version, orderSubject, err)
		}
		// The writer encodes with the schema it registered (and its reference), as a service would.
		schema, err := srParse(ctx, cl, order.Schema)
		if err != nil {
			return res, err
		}
		var serde sr.Serde
		serde.Register(order.ID, srOrder{},
			sr.EncodeFn(func(v any) ([]byte, error) { return avro.Marshal(schema, v) }))
		kc, err := kgo.NewClient(kgo.SeedBrokers(p.Brokers), kgo.RequiredAcks(kgo.AllISRAcks()))
		if err != nil {
			return res, err
		}
		defer kc.Close()
		var recs []*kgo.Record
		for i := 0; i < p.Count; i++ {
			b, err := serde.Encode(srOrderOf(i))
			if err != nil {
				return res, fmt.Errorf("encode order %d: %w", i, err)
			}
			recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(key(i)), Value: b})
		}
		if err := kc.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			return res, fmt.Errorf("produce to %s: %w", topic, err)
		}
	}
	if err := srConsume(ctx, cl, p.Brokers, topic, p.Count); err != nil {
		return res, err
	}
	for _, subj := range []string{addressSubject, orderSubject} {
		ss, err := cl.Schemas(ctx, subj)
		if err != nil {
			return res, fmt.Errorf("versions of %s: %w", subj, err)
		}
		for _, s := range ss {
			res.Registered = append(res.Registered, registration{Subject: s.Subject, ID: s.ID, Version: s.Version, Type: s.Type.String()})
		}
	}
	return res, nil
}

// srConsume reads topic from offset 0 with a new client and decoder that know no schema: each record's
// schema id is looked up (GET /schemas/ids/N), its references resolved, and the record decoded and
// compared with what was produced.
func srConsume(ctx context.Context, cl *sr.Client, brokers, topic string, count int) error {
	kc, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		topic: {0: kgo.NewOffset().AtStart()},
	}))
	if err != nil {
		return err
	}
	defer kc.Close()
	var serde sr.Serde
	got := 0
	for got < count {
		fs := kc.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%s: %d of %d records consumed: %w", topic, got, count, err)
		}
		if err := fs.Err(); err != nil {
			return fmt.Errorf("consume %s: %w", topic, err)
		}
		for _, r := range fs.Records() {
			var o srOrder
			err := serde.Decode(r.Value, &o)
			if errors.Is(err, sr.ErrNotRegistered) {
				id, _, herr := (&sr.ConfluentHeader{}).DecodeID(r.Value)
				if herr != nil {
					return fmt.Errorf("%s@%d: %w", topic, r.Offset, herr)
				}
				s, serr := cl.SchemaByID(ctx, id)
				if serr != nil {
					return fmt.Errorf("%s@%d: schema id %d: %w", topic, r.Offset, id, serr)
				}
				schema, perr := srParse(ctx, cl, s)
				if perr != nil {
					return fmt.Errorf("%s@%d: schema id %d: %w", topic, r.Offset, id, perr)
				}
				serde.Register(id, srOrder{}, sr.DecodeFn(func(b []byte, v any) error { return avro.Unmarshal(schema, b, v) }))
				err = serde.Decode(r.Value, &o)
			}
			if err != nil {
				return fmt.Errorf("%s@%d: decode: %w", topic, r.Offset, err)
			}
			want := srOrderOf(int(r.Offset))
			o.Placed = o.Placed.UTC()
			if !reflect.DeepEqual(o, want) {
				return fmt.Errorf("%s@%d: decoded %+v, want %+v", topic, r.Offset, o, want)
			}
			got++
		}
	}
	return nil
}

// srParse parses an Avro schema after the schemas it references (fetched from the registry, depth
// first), as a service resolving references does.
func srParse(ctx context.Context, cl *sr.Client, s sr.Schema) (avro.Schema, error) {
	cache := &avro.SchemaCache{}
	var add func(refs []sr.SchemaReference, depth int) error
	add = func(refs []sr.SchemaReference, depth int) error {
		if depth > 10 {
			return errors.New("references nested deeper than 10")
		}
		for _, ref := range refs {
			rs, err := cl.SchemaByVersion(ctx, ref.Subject, ref.Version)
			if err != nil {
				return fmt.Errorf("reference %s (%s version %d): %w", ref.Name, ref.Subject, ref.Version, err)
			}
			if err := add(rs.References, depth+1); err != nil {
				return err
			}
			if _, err := avro.ParseWithCache(rs.Schema.Schema, "", cache); err != nil {
				return fmt.Errorf("reference %s (%s version %d): %w", ref.Name, ref.Subject, ref.Version, err)
			}
		}
		return nil
	}
	if len(s.References) == 0 {
		return nil, errors.New("the registry returned the order schema without its reference to kc.go.Address")
	}
	if err := add(s.References, 0); err != nil {
		return nil, err
	}
	return avro.ParseWithCache(s.Schema, "", cache)
}
