package telemetry

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// OTLP/HTTP paths and content types (OTLP specification, "OTLP/HTTP").
const (
	PathTraces  = "/v1/traces"
	PathLogs    = "/v1/logs"
	PathMetrics = "/v1/metrics"

	ctProtobuf = "application/x-protobuf"
	ctJSON     = "application/json"
)

// Handler serves OTLP/HTTP: POST /v1/traces, /v1/logs and /v1/metrics with a protobuf or JSON body,
// optionally gzip-compressed. The answer is the Export*ServiceResponse in the request's encoding (with a
// partial success for rejected spans); a malformed body is 400 with a google.rpc.Status.
func (r *Receiver) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(PathTraces, r.handle(func(req *http.Request, body []byte, dec decoder) (proto.Message, int, error) {
		m := &coltracepb.ExportTraceServiceRequest{}
		if err := dec(body, m); err != nil {
			return nil, http.StatusBadRequest, err
		}
		resp, err := r.exportTraces(req.Context(), m)
		if err != nil {
			return nil, http.StatusServiceUnavailable, err
		}
		return resp, http.StatusOK, nil
	}))
	mux.HandleFunc(PathLogs, r.handle(func(_ *http.Request, body []byte, dec decoder) (proto.Message, int, error) {
		m := &collogspb.ExportLogsServiceRequest{}
		if err := dec(body, m); err != nil {
			return nil, http.StatusBadRequest, err
		}
		return r.exportLogs(m), http.StatusOK, nil
	}))
	mux.HandleFunc(PathMetrics, r.handle(func(_ *http.Request, body []byte, dec decoder) (proto.Message, int, error) {
		m := &colmetricspb.ExportMetricsServiceRequest{}
		if err := dec(body, m); err != nil {
			return nil, http.StatusBadRequest, err
		}
		return r.exportMetrics(m), http.StatusOK, nil
	}))
	return mux
}

type decoder func([]byte, proto.Message) error

func (r *Receiver) handle(export func(*http.Request, []byte, decoder) (proto.Message, int, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "OTLP/HTTP takes POST", http.StatusMethodNotAllowed)
			return
		}
		ct, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
		var dec decoder
		var enc func(proto.Message) ([]byte, error)
		switch ct {
		case ctProtobuf:
			dec, enc = DecodeProtobuf, proto.Marshal
		case ctJSON:
			dec, enc = DecodeJSON, protojson.Marshal
		default:
			http.Error(w, fmt.Sprintf("unsupported Content-Type %q: OTLP/HTTP takes %s or %s", ct, ctProtobuf, ctJSON), http.StatusUnsupportedMediaType)
			return
		}
		fail := func(code int, err error) {
			r.stats.badRequests.Add(1)
			c := codes.InvalidArgument
			if code == http.StatusServiceUnavailable {
				c = codes.Unavailable
				w.Header().Set("Retry-After", "1")
			}
			b, _ := enc(status.New(c, err.Error()).Proto())
			w.Header().Set("Content-Type", ct)
			w.WriteHeader(code)
			w.Write(b)
		}
		body, code, err := r.readBody(w, req)
		if err != nil {
			fail(code, err)
			return
		}
		resp, code, err := export(req, body, dec)
		if err != nil {
			fail(code, err)
			return
		}
		b, err := enc(resp)
		if err != nil {
			fail(http.StatusInternalServerError, err)
			return
		}
		w.Header().Set("Content-Type", ct)
		w.Write(b)
	}
}

// readBody reads the request body, decompressed, at most MaxBodyBytes of it.
func (r *Receiver) readBody(w http.ResponseWriter, req *http.Request) ([]byte, int, error) {
	max := r.o.MaxBodyBytes
	var src io.Reader = http.MaxBytesReader(w, req.Body, max)
	switch ce := strings.ToLower(strings.TrimSpace(req.Header.Get("Content-Encoding"))); ce {
	case "", "identity":
	case "gzip":
		gz, err := gzip.NewReader(src)
		if err != nil {
			if code := bodyErrCode(err); code == http.StatusRequestEntityTooLarge {
				return nil, code, fmt.Errorf("body larger than %d bytes: send smaller batches", max)
			}
			return nil, http.StatusBadRequest, fmt.Errorf("gzip body: %w", err)
		}
		defer gz.Close()
		src = gz
	default:
		return nil, http.StatusUnsupportedMediaType, fmt.Errorf("unsupported Content-Encoding %q: OTLP/HTTP takes gzip or none", ce)
	}
	tooLarge := fmt.Errorf("body larger than %d bytes: send smaller batches", max)
	b, err := io.ReadAll(io.LimitReader(src, max+1))
	if err != nil {
		if code := bodyErrCode(err); code == http.StatusRequestEntityTooLarge {
			return nil, code, tooLarge
		}
		return nil, http.StatusBadRequest, fmt.Errorf("read body: %w", err)
	}
	if int64(len(b)) > max {
		return nil, http.StatusRequestEntityTooLarge, tooLarge
	}
	return b, 0, nil
}

func bodyErrCode(err error) int {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

// DecodeProtobuf decodes a binary OTLP request.
func DecodeProtobuf(b []byte, m proto.Message) error {
	if err := proto.Unmarshal(b, m); err != nil {
		return fmt.Errorf("decode protobuf body: %w", err)
	}
	return nil
}

// DecodeJSON decodes an OTLP/JSON request. OTLP's JSON differs from protobuf's canonical JSON in one
// way that matters: trace and span ids are hex, not base64. Unknown fields are ignored, as the spec asks.
func DecodeJSON(b []byte, m proto.Message) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return fmt.Errorf("decode JSON body: %w", err)
	}
	if d.More() {
		return errors.New("decode JSON body: text after the object")
	}
	hexIDsToBase64(v, 0)
	nb, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("decode JSON body: %w", err)
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(nb, m); err != nil {
		return fmt.Errorf("decode JSON body: %w", err)
	}
	return nil
}

// hexIDsToBase64 rewrites the id fields of a decoded OTLP/JSON document from hex to the base64 that
// protojson reads. Only field names are keys of JSON objects in OTLP/JSON (attributes are key/value
// pairs), so the walk cannot touch a user's data.
func hexIDsToBase64(v any, depth int) {
	if depth > 64 {
		return
	}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			switch k {
			case "traceId", "trace_id", "spanId", "span_id", "parentSpanId", "parent_span_id":
				if s, ok := e.(string); ok {
					if b, err := hex.DecodeString(s); err == nil {
						x[k] = base64.StdEncoding.EncodeToString(b)
					}
				}
			default:
				hexIDsToBase64(e, depth+1)
			}
		}
	case []any:
		for _, e := range x {
			hexIDsToBase64(e, depth+1)
		}
	}
}
