package cli

import (
	"encoding/json"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/devstack-dev/devstack/internal/event"
)

// ecsVersion is the Elastic Common Schema version `devstack logs --json` writes.
const ecsVersion = "8.11.0"

// ecsLine is one log line in the Elastic Common Schema, as the ecs-logging libraries write it: dotted
// keys at the top level ("log.level", not {"log":{"level":…}}), the line's own fields under labels.
type ecsLine struct {
	Timestamp  string            `json:"@timestamp"`
	Level      string            `json:"log.level,omitempty"`
	Message    string            `json:"message"`
	ECSVersion string            `json:"ecs.version"`
	Service    string            `json:"service.name"`
	Node       string            `json:"service.node.name,omitempty"`
	Dataset    string            `json:"event.dataset"`
	Logger     string            `json:"log.logger,omitempty"`
	TraceID    string            `json:"trace.id,omitempty"`
	SpanID     string            `json:"span.id,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	Stream     string            `json:"devstack.stream,omitempty"`
	Seq        uint64            `json:"devstack.seq,omitempty"`
}

// loggerKeys are the fields that name the logger inside a service (ECS log.logger): Python's
// logging "name", NestJS's "context", and the usual spellings.
var loggerKeys = []string{"log.logger", "logger", "logger_name", "loggerName", "name", "context"}

// toECS turns a log line into its ECS document.
func toECS(l event.LogLine) ecsLine {
	e := ecsLine{
		Timestamp:  l.Time.UTC().Format(time.RFC3339Nano),
		Level:      l.Severity,
		Message:    l.Text,
		ECSVersion: ecsVersion,
		Service:    l.Source,
		Dataset:    l.Source + ".log",
		TraceID:    l.TraceID,
		SpanID:     l.SpanID,
		Stream:     l.Stream,
		Seq:        l.Seq,
	}
	if e.Level == "" {
		e.Level = l.Level()
	}
	switch l.Stream {
	case "stdout", "stderr", "otlp", "build", "setup":
		e.Node = l.Source + "." + strconv.Itoa(l.Replica)
	}
	fields := l.Fields
	for _, k := range loggerKeys {
		if v, ok := fields[k]; ok && v != "" {
			e.Logger = v
			fields = without(fields, k)
			break
		}
	}
	if e.Message == "" && len(fields) > 0 {
		// ECS: a structured line without a message gets its fields as one
		keys := make([]string, 0, len(fields))
		for k := range fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			keys[i] = k + "=" + logfmtValue(fields[k])
		}
		e.Message = strings.Join(keys, " ")
	}
	if len(fields) > 0 {
		e.Labels = make(map[string]string, len(fields))
		for k, v := range fields {
			// ECS labels are flat keywords: a dot would make Elasticsearch read an object
			e.Labels[strings.ReplaceAll(k, ".", "_")] = v
		}
	}
	return e
}

func without(m map[string]string, key string) map[string]string {
	out := make(map[string]string, len(m)-1)
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	return out
}

// ecsWriter writes log lines as NDJSON, one ECS document a line.
type ecsWriter struct{ enc *json.Encoder }

func newECSWriter(w io.Writer) ecsWriter {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return ecsWriter{enc}
}

func (w ecsWriter) write(l event.LogLine) error { return w.enc.Encode(toECS(l)) }
