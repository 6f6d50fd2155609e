package telemetry

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unique"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/devstack-dev/devstack/internal/event"
)

// Resource attributes devstack reads. ReplicaAttr is the one devstack sets in every service instance's
// OTEL_RESOURCE_ATTRIBUTES (with service.instance.id) so a log record names its replica.
const (
	ServiceNameAttr = "service.name"
	InstanceAttr    = "service.instance.id"
	ReplicaAttr     = "devstack.replica"
	// unknownService is what the OpenTelemetry SDKs call a service whose resource has no service.name.
	unknownService = "unknown_service"
)

// convertTraces turns an OTLP export into spans. A span whose trace or span id has the wrong length (or
// is all zeros) is rejected: it is counted and the reason kept for the partial-success answer.
func convertTraces(req *coltracepb.ExportTraceServiceRequest) (spans []event.Span, rejected int64, reason string) {
	n := 0
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			n += len(ss.GetSpans())
		}
	}
	spans = make([]event.Span, 0, n)
	for _, rs := range req.GetResourceSpans() {
		service, instance := resourceNames(rs.GetResource())
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				tid, ok1 := hexID(sp.GetTraceId(), 16)
				sid, ok2 := hexID(sp.GetSpanId(), 8)
				if !ok1 || !ok2 {
					rejected++
					reason = "a span's trace_id must be 16 bytes and its span_id 8 bytes, not all zero"
					continue
				}
				pid, _ := hexID(sp.GetParentSpanId(), 8) // a malformed parent: a root span
				s := event.Span{
					TraceID:  tid,
					SpanID:   sid,
					ParentID: pid,
					Service:  service,
					Instance: instance,
					Name:     intern(sp.GetName()),
					Kind:     spanKind(sp.GetKind()),
					Start:    unixNano(sp.GetStartTimeUnixNano()),
					End:      unixNano(sp.GetEndTimeUnixNano()),
					Attrs:    attrs(sp.GetAttributes()),
				}
				if s.End.Before(s.Start) {
					s.End = s.Start
				}
				switch sp.GetStatus().GetCode() {
				case tracepb.Status_STATUS_CODE_ERROR:
					s.Status = "error"
				case tracepb.Status_STATUS_CODE_OK:
					s.Status = "ok"
				}
				s.StatusMessage = sp.GetStatus().GetMessage()
				for _, e := range sp.GetEvents() {
					s.Events = append(s.Events, event.SpanEvent{Time: unixNano(e.GetTimeUnixNano()), Name: intern(e.GetName()), Attrs: attrs(e.GetAttributes())})
				}
				for _, l := range sp.GetLinks() {
					lt, ok1 := hexID(l.GetTraceId(), 16)
					ls, ok2 := hexID(l.GetSpanId(), 8)
					if ok1 && ok2 {
						s.Links = append(s.Links, event.SpanLink{TraceID: lt, SpanID: ls, Attrs: attrs(l.GetAttributes())})
					}
				}
				spans = append(spans, s)
			}
		}
	}
	return spans, rejected, reason
}

// convertLogs turns an OTLP logs export into log lines (Stream "otlp").
func convertLogs(req *collogspb.ExportLogsServiceRequest) []event.LogLine {
	var out []event.LogLine
	for _, rl := range req.GetResourceLogs() {
		res := rl.GetResource()
		service, _ := resourceNames(res)
		replica := 0
		for _, kv := range res.GetAttributes() {
			if kv.GetKey() == ReplicaAttr {
				switch v := kv.GetValue().GetValue().(type) {
				case *commonpb.AnyValue_IntValue:
					replica = int(v.IntValue)
				case *commonpb.AnyValue_StringValue:
					replica, _ = strconv.Atoi(v.StringValue)
				}
			}
		}
		for _, sl := range rl.GetScopeLogs() {
			for _, r := range sl.GetLogRecords() {
				t := r.GetTimeUnixNano()
				if t == 0 {
					t = r.GetObservedTimeUnixNano()
				}
				l := event.LogLine{
					Source:   service,
					Replica:  replica,
					Stream:   "otlp",
					Text:     anyText(r.GetBody()),
					Severity: severity(r.GetSeverityNumber(), r.GetSeverityText()),
					Fields:   attrs(r.GetAttributes()),
				}
				if t != 0 {
					l.Time = unixNano(t)
				}
				l.TraceID, _ = hexID(r.GetTraceId(), 16)
				l.SpanID, _ = hexID(r.GetSpanId(), 8)
				out = append(out, l)
			}
		}
	}
	return out
}

// severity maps an OTLP severity to devstack's levels: error (also fatal), warn, info, debug, trace;
// the severity number when the record has one, else its severity text.
func severity(n logspb.SeverityNumber, text string) string {
	switch {
	case n >= 17:
		return "error"
	case n >= 13:
		return "warn"
	case n >= 9:
		return "info"
	case n >= 5:
		return "debug"
	case n >= 1:
		return "trace"
	}
	// no number: the text, as a JSON line's level is read, less OpenTelemetry's suffix (INFO2, WARN4)
	return event.NormalizeLevel(strings.TrimRight(text, "234"))
}

func resourceNames(r *resourcepb.Resource) (service, instance string) {
	for _, kv := range r.GetAttributes() {
		switch kv.GetKey() {
		case ServiceNameAttr:
			service = anyText(kv.GetValue())
		case InstanceAttr:
			instance = anyText(kv.GetValue())
		}
	}
	if service == "" {
		service = unknownService
	}
	return intern(service), intern(instance)
}

// hexID renders an id as lowercase hex; ok is false unless it has n bytes and is not all zero.
func hexID(b []byte, n int) (string, bool) {
	if len(b) != n {
		return "", false
	}
	for _, c := range b {
		if c != 0 {
			return hex.EncodeToString(b), true
		}
	}
	return "", false
}

func unixNano(ns uint64) time.Time {
	if ns > 1<<63-1 {
		ns = 1<<63 - 1
	}
	return time.Unix(0, int64(ns)).UTC()
}

func spanKind(k tracepb.Span_SpanKind) string {
	switch k {
	case tracepb.Span_SPAN_KIND_INTERNAL:
		return "internal"
	case tracepb.Span_SPAN_KIND_SERVER:
		return "server"
	case tracepb.Span_SPAN_KIND_CLIENT:
		return "client"
	case tracepb.Span_SPAN_KIND_PRODUCER:
		return "producer"
	case tracepb.Span_SPAN_KIND_CONSUMER:
		return "consumer"
	}
	return ""
}

func attrs(kvs []*commonpb.KeyValue) map[string]string {
	if len(kvs) == 0 {
		return nil
	}
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		v := anyText(kv.GetValue())
		if len(v) <= maxInterned {
			v = intern(v)
		}
		m[intern(kv.GetKey())] = v
	}
	return m
}

// maxInterned is the longest attribute value interned: short values repeat (methods, routes, status
// codes, host names); long ones rarely do.
const maxInterned = 64

// intern returns the canonical copy of s: the store keeps up to max_spans spans whose names, services
// and attribute keys are mostly the same few strings, held once instead of once per span.
func intern(s string) string { return unique.Make(s).Value() }

// anyText renders an attribute value as text: strings as they are, numbers and booleans as Go prints
// them, bytes as base64, arrays and maps as JSON.
func anyText(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_BoolValue:
		return strconv.FormatBool(x.BoolValue)
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	case *commonpb.AnyValue_DoubleValue:
		return strconv.FormatFloat(x.DoubleValue, 'g', -1, 64)
	case *commonpb.AnyValue_BytesValue:
		return base64.StdEncoding.EncodeToString(x.BytesValue)
	case *commonpb.AnyValue_ArrayValue, *commonpb.AnyValue_KvlistValue:
		b, err := json.Marshal(anyJSON(v))
		if err != nil {
			return ""
		}
		return string(b)
	}
	return ""
}

func anyJSON(v *commonpb.AnyValue) any {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_BoolValue:
		return x.BoolValue
	case *commonpb.AnyValue_IntValue:
		return x.IntValue
	case *commonpb.AnyValue_DoubleValue:
		return x.DoubleValue
	case *commonpb.AnyValue_BytesValue:
		return base64.StdEncoding.EncodeToString(x.BytesValue)
	case *commonpb.AnyValue_ArrayValue:
		a := make([]any, 0, len(x.ArrayValue.GetValues()))
		for _, e := range x.ArrayValue.GetValues() {
			a = append(a, anyJSON(e))
		}
		return a
	case *commonpb.AnyValue_KvlistValue:
		m := make(map[string]any, len(x.KvlistValue.GetValues()))
		for _, kv := range x.KvlistValue.GetValues() {
			m[kv.GetKey()] = anyJSON(kv.GetValue())
		}
		return m
	}
	return nil
}
