package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/devstack-dev/devstack/internal/event"
	"github.com/devstack-dev/devstack/internal/serde"
)

func init() { register(newProduceCmd) }

// produceBatch caps how many lines one produce request carries.
const produceBatch = 1000

func newProduceCmd(app *App) *cobra.Command {
	var (
		bf        brokerFlags
		key       string
		keySep    string
		headers   []string
		asJSON    bool
		partition int32
		rf        registryFlags
		useSchema bool
		valueSubj string
		keySubj   string
		version   string
		message   string
	)
	cmd := &cobra.Command{
		Use:   "produce TOPIC",
		Short: "Produce one record per line of stdin (acks=all)",
		Long: "Produce one record per stdin line to TOPIC and wait until the broker acknowledged each\n" +
			"(acks=all). Empty lines are skipped. Lines typed at a terminal are sent as they are entered.\n\n" +
			"With --schema (subject TOPIC-value) or --value-subject S, each line is JSON that is encoded with\n" +
			"the subject's latest version (--version N for another) in the schema registry's wire format, as\n" +
			"registry serializers write it: Avro from Avro's JSON encoding (a union's value as {\"type\": value},\n" +
			"or bare when one branch takes it), JSON Schema validated, Protobuf from its JSON mapping\n" +
			"(--message picks the message; default the file's first). A line that does not match is refused\n" +
			"with the path of the first mismatch. --key-subject S encodes keys the same way.",
		Example: "  echo '{\"id\":1}' | devstack produce orders --json\n" +
			"  devstack produce orders --key-separator : < lines.txt     # key:value per line\n" +
			"  devstack produce orders --key user-7 --header source=cli --header trace=abc\n" +
			"  devstack produce orders.placed --schema < orders.jsonl     # JSON lines, encoded with orders.placed-value's latest\n" +
			"  devstack produce orders.placed --value-subject orders.placed-value --version 1 < orders.jsonl",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			topic := args[0]
			var hs []event.Header
			for _, h := range headers {
				k, v, ok := strings.Cut(h, "=")
				if !ok || k == "" {
					return fmt.Errorf("--header %q: want key=value", h)
				}
				hs = append(hs, event.Header{Key: k, Value: []byte(v)})
			}
			if key != "" && keySep != "" {
				return errors.New("--key and --key-separator exclude each other: use one fixed key or one key per line")
			}
			if useSchema && valueSubj == "" {
				valueSubj = topic + "-value"
			}
			if (version != "" || message != "") && valueSubj == "" {
				return errors.New("--version and --message pick the value's schema: add --schema or --value-subject")
			}
			if keySubj != "" && key == "" && keySep == "" {
				return errors.New("--key-subject encodes keys: give them with --key or --key-separator")
			}
			ctx := cmd.Context()
			var valueSchema, keySchema *serde.Resolved
			if valueSubj != "" || keySubj != "" {
				reg, err := rf.client(ctx, app)
				if err != nil {
					return err
				}
				if valueSubj != "" {
					v, err := parseVersion(version)
					if err != nil {
						return fmt.Errorf("--version: %w", err)
					}
					if valueSchema, err = reg.BySubject(ctx, valueSubj, v); err != nil {
						return registryErr(reg, err)
					}
				}
				if keySubj != "" {
					if keySchema, err = reg.BySubject(ctx, keySubj, -1); err != nil {
						return registryErr(reg, err)
					}
				}
			}
			a, err := bf.admin(ctx, app)
			if err != nil {
				return err
			}
			defer a.Close()
			encode := func(s *serde.Resolved, b []byte, msg, what string) ([]byte, error) {
				out, err := serde.Encode(s, b, msg)
				if err != nil {
					return nil, fmt.Errorf("%s does not match %s: %w", what, s.Info(), err)
				}
				return out, nil
			}
			var fixedKey []byte
			if key != "" {
				fixedKey = []byte(key)
				if keySchema != nil {
					if fixedKey, err = encode(keySchema, fixedKey, "", "--key"); err != nil {
						return err
					}
				}
			}

			send := func(msgs []event.Message) error {
				if partition >= 0 {
					return a.ProduceToPartition(ctx, topic, partition, msgs)
				}
				return a.Produce(ctx, topic, msgs)
			}
			done := make(chan struct{})
			defer close(done)
			lines := readStdinLines(app.Stdin, done)
			var (
				batch []event.Message
				total int
				lineN int
			)
			add := func(l stdinLine) error {
				lineN++
				if l.err != nil {
					return fmt.Errorf("read stdin: %w", l.err)
				}
				if strings.TrimSpace(l.text) == "" {
					return nil
				}
				m := event.Message{Value: []byte(l.text), Headers: hs}
				if key != "" {
					m.Key = fixedKey
				}
				if keySep != "" {
					k, v, found := strings.Cut(l.text, keySep)
					if !found {
						return fmt.Errorf("stdin line %d: no key separator %q in %q", lineN, keySep, truncateText(l.text, 60))
					}
					m.Key, m.Value = []byte(k), []byte(v)
				}
				if asJSON && !json.Valid(m.Value) {
					return fmt.Errorf("stdin line %d is not valid JSON: %s", lineN, truncateText(string(m.Value), 60))
				}
				if keySchema != nil && keySep != "" {
					k, err := encode(keySchema, m.Key, "", "the key")
					if err != nil {
						return fmt.Errorf("stdin line %d: %w", lineN, err)
					}
					m.Key = k
				}
				if valueSchema != nil {
					v, err := encode(valueSchema, m.Value, message, "the value")
					if err != nil {
						return fmt.Errorf("stdin line %d: %w", lineN, err)
					}
					m.Value = v
				}
				batch = append(batch, m)
				return nil
			}
			for {
				// Block for one line, then take those already read (up to a batch) without waiting, so
				// piped input is batched and typed lines go out at once.
				l, ok := <-lines
			drain:
				for ok {
					if err := add(l); err != nil {
						return fmt.Errorf("%w (%d records were produced before it)", err, total)
					}
					if len(batch) >= produceBatch {
						break
					}
					select {
					case l, ok = <-lines:
					default:
						break drain
					}
				}
				if len(batch) > 0 {
					if err := send(batch); err != nil {
						return fmt.Errorf("%w (%d records were produced before)", err, total)
					}
					total += len(batch)
					batch = batch[:0]
				}
				if !ok {
					break
				}
			}
			fmt.Fprintf(app.Stderr, "produced %d record%s to %s\n", total, brokerPlural(total), topic)
			return nil
		},
	}
	bf.add(cmd)
	cmd.Flags().StringVarP(&key, "key", "k", "", "key for every record")
	cmd.Flags().StringVarP(&keySep, "key-separator", "K", "", "split each line at the first SEP into key and value")
	cmd.Flags().StringArrayVarP(&headers, "header", "H", nil, "header key=value for every record (repeatable)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "check that each value is valid JSON before producing")
	cmd.Flags().Int32VarP(&partition, "partition", "p", -1, "partition to produce to (default: by key)")
	cmd.Flags().BoolVar(&useSchema, "schema", false, "encode values with the schema registry subject TOPIC-value")
	cmd.Flags().StringVar(&valueSubj, "value-subject", "", "encode values with this schema registry subject")
	cmd.Flags().StringVar(&keySubj, "key-subject", "", "encode keys with this schema registry subject (its latest version)")
	cmd.Flags().StringVar(&version, "version", "", "version of the value subject to encode with (default: latest)")
	cmd.Flags().StringVar(&message, "message", "", "Protobuf: the message type of values (default: the schema's first message)")
	rf.add(cmd)
	return cmd
}

type stdinLine struct {
	text string
	err  error
}

// readLines reads r line by line on its own goroutine; the channel closes at EOF (after an error
// line if reading failed). Closing done stops the goroutine at its next line.
func readStdinLines(r io.Reader, done <-chan struct{}) <-chan stdinLine {
	ch := make(chan stdinLine, produceBatch)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			select {
			case ch <- stdinLine{text: strings.TrimSuffix(sc.Text(), "\r")}:
			case <-done:
				return
			}
		}
		if err := sc.Err(); err != nil {
			select {
			case ch <- stdinLine{err: err}:
			case <-done:
			}
		}
	}()
	return ch
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
