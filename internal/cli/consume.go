package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/devstack-dev/devstack/internal/broker"
	"github.com/devstack-dev/devstack/internal/control"
	"github.com/devstack-dev/devstack/internal/event"
	"github.com/devstack-dev/devstack/internal/serde"
)

func init() { register(newConsumeCmd) }

func newConsumeCmd(app *App) *cobra.Command {
	var (
		bf            brokerFlags
		fromBeginning bool
		offset        int64
		partition     int32
		follow        bool
		maxMessages   int
		group         string
		raw           bool
		asJSON        bool
		noDecode      bool
		rf            registryFlags
	)
	cmd := &cobra.Command{
		Use:   "consume TOPIC",
		Short: "Print records of a topic (a tap: joins no consumer group unless --group)",
		Long: "Print records of TOPIC with partition, offset, timestamp, key and headers; JSON values are\n" +
			"pretty-printed. By default the last 10 records are shown (with -f, then new ones as they\n" +
			"arrive). Without --group the topic is read directly and no consumer group is joined or moved;\n" +
			"with --group G it joins G like any consumer (kcat -G) and commits what it printed.\n\n" +
			"Keys and values in the schema registry's wire format (magic byte 0, schema id) are decoded to\n" +
			"JSON with the schema the id names (Avro as Avro's JSON encoding) and shown with their subject,\n" +
			"version and id; a record whose id the registry does not know says so and shows its bytes.\n" +
			"--no-decode shows the bytes of every record.",
		Example: "  devstack consume orders                 # last 10 records\n" +
			"  devstack consume orders -f              # then follow\n" +
			"  devstack consume orders --from-beginning -n 100\n" +
			"  devstack consume orders --offset 42 --partition 1\n" +
			"  devstack consume orders --group debug --from-beginning\n" +
			"  devstack consume orders.placed --json   # registry-framed records decoded to JSON",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			topic := args[0]
			offsetSet := cmd.Flags().Changed("offset")
			if fromBeginning && offsetSet {
				return errors.New("--from-beginning and --offset exclude each other")
			}
			if group != "" && (offsetSet || partition >= 0) {
				return errors.New("--group reads from the group's committed offsets: drop --offset/--partition, or drop --group to read any position")
			}
			if raw && asJSON {
				return errors.New("--raw and --json exclude each other")
			}
			ctx := cmd.Context()
			a, err := bf.admin(ctx, app)
			if err != nil {
				return err
			}
			defer a.Close()
			pr := &recordPrinter{w: app.Stdout, raw: raw, json: asJSON, p: painter{on: useColor(app.Stdout)}}
			if !raw && !noDecode {
				pr.dec, pr.ctx = &recordDecoder{app: app, rf: rf}, ctx
			}

			if group != "" {
				n := 0
				err := a.ConsumeGroup(ctx, group, topic, broker.GroupConsumeOptions{FromBeginning: fromBeginning, Follow: follow},
					func(m event.Message) error {
						if err := pr.print(m); err != nil {
							return err
						}
						n++
						if maxMessages > 0 && n >= maxMessages {
							return broker.ErrStop
						}
						return nil
					})
				if err != nil && !errors.Is(err, context.Canceled) {
					return err
				}
				return nil
			}

			q := control.MessageQuery{Topic: topic, Partition: partition, Follow: follow, Limit: maxMessages}
			switch {
			case fromBeginning:
				q.From = "beginning"
			case offsetSet:
				q.From, q.Offset = "offset", offset
			default:
				q.From = "last"
				if q.Limit <= 0 {
					q.Limit = 10
				}
			}
			ch, err := a.Messages(ctx, q)
			if err != nil {
				return err
			}
			for m := range ch {
				if err := pr.print(m); err != nil {
					return err
				}
			}
			return nil
		},
	}
	bf.add(cmd)
	f := cmd.Flags()
	f.BoolVar(&fromBeginning, "from-beginning", false, "start at the earliest offset (with --group: where the group has no commit)")
	f.Int64VarP(&offset, "offset", "o", 0, "start at this offset in each partition (negative: that many before the end)")
	f.Int32VarP(&partition, "partition", "p", -1, "read only this partition")
	f.BoolVarP(&follow, "follow", "f", false, "keep printing new records until Ctrl-C")
	f.IntVarP(&maxMessages, "max-messages", "n", 0, "stop after this many records; in the default view, how many recent records to show (like tail -n; default 10)")
	f.StringVarP(&group, "group", "g", "", "consume as a member of this consumer group and commit (like kcat -G)")
	f.BoolVar(&raw, "raw", false, "print only values, one per line, as they are")
	f.BoolVar(&asJSON, "json", false, "print each record as one JSON object per line")
	f.BoolVar(&noDecode, "no-decode", false, "show schema-registry-framed keys and values as bytes, undecoded")
	rf.add(cmd)
	return cmd
}

type recordPrinter struct {
	w    io.Writer
	raw  bool
	json bool
	p    painter
	dec  *recordDecoder // nil: no decoding
	ctx  context.Context
}

func (pr *recordPrinter) print(m event.Message) error {
	var err error
	var key, val decoded
	if pr.dec != nil {
		key = pr.dec.decode(pr.ctx, m.Key, m.Topic+"-key")
		val = pr.dec.decode(pr.ctx, m.Value, m.Topic+"-value")
	}
	switch {
	case pr.raw:
		_, err = fmt.Fprintf(pr.w, "%s\n", m.Value)
	case pr.json:
		err = json.NewEncoder(pr.w).Encode(jsonRecord(m, key, val))
	default:
		var b bytes.Buffer
		fmt.Fprintf(&b, "%s %s", pr.p.color(36, fmt.Sprintf("%s[%d]@%d", m.Topic, m.Partition, m.Offset)),
			pr.p.dim(m.Timestamp.Local().Format("2006-01-02 15:04:05.000")))
		if m.Key != nil {
			if key.framed && key.err == nil {
				fmt.Fprintf(&b, "  key=%s %s", key.json, pr.p.dim("("+key.info.String()+")"))
			} else {
				fmt.Fprintf(&b, "  key=%s", printableBytes(m.Key))
				if key.err != nil {
					fmt.Fprintf(&b, " %s", pr.p.color(33, "("+key.err.Error()+")"))
				}
			}
		}
		b.WriteByte('\n')
		for _, h := range m.Headers {
			fmt.Fprintf(&b, "  %s: %s\n", pr.p.dim(h.Key), printableBytes(h.Value))
		}
		switch {
		case val.framed && val.err == nil:
			fmt.Fprintf(&b, "  %s\n", pr.p.dim("schema: "+val.info.String()))
			b.Write(prettyValue(val.json))
		case val.err != nil:
			fmt.Fprintf(&b, "  %s\n", pr.p.color(33, val.err.Error()+"; raw bytes:"))
			b.WriteString(printableBytes(m.Value))
		default:
			b.Write(prettyValue(m.Value))
		}
		b.WriteString("\n\n")
		_, err = pr.w.Write(b.Bytes())
	}
	return err
}

// prettyValue indents JSON values and shows others as text (or quoted when not UTF-8).
func prettyValue(v []byte) []byte {
	if v == nil {
		return []byte("(null)")
	}
	if t := bytes.TrimSpace(v); len(t) > 0 && (t[0] == '{' || t[0] == '[') && json.Valid(t) {
		var out bytes.Buffer
		if json.Indent(&out, t, "", "  ") == nil {
			return out.Bytes()
		}
	}
	return []byte(printableBytes(v))
}

func printableBytes(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return fmt.Sprintf("%q", b)
}

// jsonRecord is a record as --json prints it: a JSON value stays JSON, a decoded one is its JSON with
// key_schema/schema saying what it was written with, other values are strings.
func jsonRecord(m event.Message, key, val decoded) any {
	type header struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	out := struct {
		Topic     string          `json:"topic"`
		Partition int32           `json:"partition"`
		Offset    int64           `json:"offset"`
		Timestamp time.Time       `json:"timestamp"`
		Key       *string         `json:"key"`
		Headers   []header        `json:"headers,omitempty"`
		Value     json.RawMessage `json:"value"`
		KeySchema *serde.Info     `json:"key_schema,omitempty"`
		KeyError  string          `json:"key_schema_error,omitempty"`
		Schema    *serde.Info     `json:"schema,omitempty"`
		Error     string          `json:"schema_error,omitempty"`
	}{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Timestamp: m.Timestamp}
	if m.Key != nil {
		k := printableBytes(m.Key)
		out.Key = &k
	}
	if key.framed && key.err == nil {
		k := string(key.json)
		out.Key, out.KeySchema = &k, &key.info
	} else if key.err != nil {
		out.KeyError = key.err.Error()
	}
	if val.framed && val.err == nil {
		out.Value, out.Schema = json.RawMessage(val.json), &val.info
		return out
	} else if val.err != nil {
		out.Error = val.err.Error()
		s, _ := json.Marshal(printableBytes(m.Value))
		out.Value = s
		return out
	}
	for _, h := range m.Headers {
		out.Headers = append(out.Headers, header{h.Key, printableBytes(h.Value)})
	}
	switch {
	case m.Value == nil:
		out.Value = json.RawMessage("null")
	case json.Valid(m.Value):
		out.Value = json.RawMessage(bytes.TrimSpace(m.Value))
	default:
		s, _ := json.Marshal(printableBytes(m.Value))
		out.Value = s
	}
	return out
}

// decoded is a key or value read through the schema registry: framed says it is in the wire format;
// then json and info (or err: unknown id, no registry, does not decode).
type decoded struct {
	framed bool
	json   []byte
	info   serde.Info
	err    error
}

// recordDecoder decodes framed records with the registry, reached at the first framed record (so
// topics without framed records need no registry).
type recordDecoder struct {
	app    *App
	rf     registryFlags
	reg    *serde.Registry
	regErr error
	tried  bool
}

func (d *recordDecoder) decode(ctx context.Context, b []byte, prefer string) decoded {
	if _, err := serde.ParseFrame(b, false); err != nil {
		return decoded{}
	}
	if !d.tried {
		d.tried = true
		d.reg, d.regErr = d.rf.client(ctx, d.app)
	}
	if d.regErr != nil {
		return decoded{framed: true, err: fmt.Errorf("framed for the schema registry, but %v", d.regErr)}
	}
	r, err := serde.Decode(ctx, d.reg, b, prefer)
	if err != nil {
		if errors.Is(err, serde.ErrUnknownID) {
			id, _ := serde.ParseFrame(b, false)
			err = fmt.Errorf("schema id %d is unknown to the registry at %s", id.ID, d.reg.URL)
		}
		return decoded{framed: true, err: err, info: r.Info}
	}
	return decoded{framed: true, json: r.JSON, info: r.Info}
}
