package control

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/devstack-dev/devstack/internal/event"
)

// Endpoint is what a running stack writes to <state dir>/control.json so clients can find it.
type Endpoint struct {
	Addr  string `json:"addr"`
	PID   int    `json:"pid"`
	Token string `json:"token"`
}

// EndpointFile is the file, inside the state directory, that names the control API of a running stack.
const EndpointFile = "control.json"

// ErrNotFound is returned (wrapped) by a Controller for an unknown service, topic or group.
var ErrNotFound = event.ErrNotFound

// Server serves a Controller over HTTP on loopback. Every request must carry the bearer token from the
// endpoint file (mode 0600), so other users on the machine cannot steer the stack.
type Server struct {
	ctrl  Controller
	token string
	srv   *http.Server
	ln    net.Listener
	file  string
	// stateDir is the stack's state directory (reported by /v1/endpoints).
	stateDir string
}

// Listen opens the control API on addr (127.0.0.1:port) and writes the endpoint file into stateDir.
func Listen(addr, stateDir string, ctrl Controller) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("control API: listen on %s: %w (is another devstack running? change control.port)", addr, err)
	}
	tok := make([]byte, 16)
	_, _ = rand.Read(tok)
	s := &Server{ctrl: ctrl, token: hex.EncodeToString(tok), ln: ln, file: filepath.Join(stateDir, EndpointFile), stateDir: stateDir}
	b, _ := json.Marshal(Endpoint{Addr: ln.Addr().String(), PID: os.Getpid(), Token: s.token})
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control API: %w", err)
	}
	if err := os.WriteFile(s.file, b, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control API: write %s: %w", s.file, err)
	}
	s.srv = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 5 * time.Second}
	return s, nil
}

// Addr is the listening address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve serves until ctx ends, then closes every connection (streams included) and removes the endpoint file.
func (s *Server) Serve(ctx context.Context) error {
	s.srv.BaseContext = func(net.Listener) context.Context { return ctx }
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		os.Remove(s.file)
		return err
	}
	os.Remove(s.file)
	sctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = s.srv.Shutdown(sctx)
	s.srv.Close()
	<-errc
	return nil
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/state", func(w http.ResponseWriter, r *http.Request) {
		st, err := s.ctrl.Snapshot(r.Context())
		reply(w, st, err)
	})
	mux.HandleFunc("GET /v1/endpoints", s.endpoints)
	mux.HandleFunc("GET /v1/events", s.events)
	mux.HandleFunc("GET /v1/logs", s.logs)
	mux.HandleFunc("POST /v1/services/{name}/{action}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		var err error
		switch r.PathValue("action") {
		case "restart":
			err = s.ctrl.Restart(r.Context(), name)
		case "stop":
			err = s.ctrl.Stop(r.Context(), name)
		case "start":
			err = s.ctrl.Start(r.Context(), name)
		case "rebuild":
			err = s.ctrl.Rebuild(r.Context(), name)
		default:
			http.Error(w, `{"error":"unknown action"}`, http.StatusNotFound)
			return
		}
		reply(w, map[string]string{"status": "ok"}, err)
	})
	mux.HandleFunc("GET /v1/topics", func(w http.ResponseWriter, r *http.Request) {
		t, err := s.ctrl.Topics(r.Context())
		reply(w, t, err)
	})
	mux.HandleFunc("GET /v1/groups", func(w http.ResponseWriter, r *http.Request) {
		g, err := s.ctrl.Groups(r.Context())
		reply(w, g, err)
	})
	mux.HandleFunc("POST /v1/groups/reset", func(w http.ResponseWriter, r *http.Request) {
		var req ResetRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			reply(w, nil, badRequest(err))
			return
		}
		reply(w, map[string]string{"status": "ok"}, s.ctrl.ResetGroup(r.Context(), req))
	})
	mux.HandleFunc("POST /v1/messages", s.messages)
	mux.HandleFunc("POST /v1/produce/{topic}", func(w http.ResponseWriter, r *http.Request) {
		var msgs []event.Message
		if err := json.NewDecoder(r.Body).Decode(&msgs); err != nil {
			reply(w, nil, badRequest(err))
			return
		}
		reply(w, map[string]int{"produced": len(msgs)}, s.ctrl.Produce(r.Context(), r.PathValue("topic"), msgs))
	})
	mux.HandleFunc("GET /v1/routes", func(w http.ResponseWriter, r *http.Request) {
		rs, err := s.ctrl.Routes(r.Context())
		reply(w, rs, err)
	})
	mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, r *http.Request) {
		var q event.TraceQuery
		if err := json.NewDecoder(r.Body).Decode(&q); err != nil {
			reply(w, nil, badRequest(err))
			return
		}
		ts, err := s.ctrl.Traces(r.Context(), q)
		reply(w, ts, err)
	})
	mux.HandleFunc("GET /v1/traces/{id}", func(w http.ResponseWriter, r *http.Request) {
		spans, err := s.ctrl.Trace(r.Context(), r.PathValue("id"))
		reply(w, spans, err)
	})
	mux.HandleFunc("GET /v1/services/{name}/metrics", func(w http.ResponseWriter, r *http.Request) {
		ms, err := s.ctrl.ServiceMetrics(r.Context(), r.PathValue("name"))
		reply(w, ms, err)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+s.token {
			http.Error(w, `{"error":"missing or wrong control token (read it from .devstack/control.json)"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		mux.ServeHTTP(w, r)
	})
}

type badRequestError struct{ error }

func badRequest(err error) error { return badRequestError{err} }

func reply(w http.ResponseWriter, v any, err error) {
	if err != nil {
		code := http.StatusInternalServerError
		var br badRequestError
		switch {
		case errors.As(err, &br):
			code = http.StatusBadRequest
		case errors.Is(err, ErrNotFound):
			code = http.StatusNotFound
		case errors.Is(err, ErrNoTelemetry):
			code = http.StatusServiceUnavailable
		}
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	_ = json.NewEncoder(w).Encode(v)
}

// stream writes NDJSON values from next until it returns false or the client goes away.
type streamWriter struct {
	w   *bufio.Writer
	fl  http.Flusher
	enc *json.Encoder
}

func newStream(w http.ResponseWriter) *streamWriter {
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 32<<10)
	fl, _ := w.(http.Flusher)
	return &streamWriter{w: bw, fl: fl, enc: json.NewEncoder(bw)}
}

func (s *streamWriter) send(v any) error { return s.enc.Encode(v) }

func (s *streamWriter) flush() error {
	if err := s.w.Flush(); err != nil {
		return err
	}
	if s.fl != nil {
		s.fl.Flush()
	}
	return nil
}

// eventFrame is one line of /v1/events: the first carries State, the rest Event.
type eventFrame struct {
	State *event.State `json:"state,omitempty"`
	Event *event.Event `json:"event,omitempty"`
}

func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	st, ch, err := s.ctrl.Subscribe(r.Context())
	if err != nil {
		reply(w, nil, err)
		return
	}
	sw := newStream(w)
	if sw.send(eventFrame{State: &st}) != nil || sw.flush() != nil {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case ev, ok := <-ch:
			if !ok {
				return // dropped: the client resubscribes
			}
			if sw.send(eventFrame{Event: &ev}) != nil {
				return
			}
			// batch whatever is already queued, then flush once
			for more := true; more; {
				select {
				case ev, ok := <-ch:
					if !ok {
						_ = sw.flush()
						return
					}
					if sw.send(eventFrame{Event: &ev}) != nil {
						return
					}
				default:
					more = false
				}
			}
			if sw.flush() != nil {
				return
			}
		}
	}
}

func (s *Server) logs(w http.ResponseWriter, r *http.Request) {
	q := LogQuery{Source: r.URL.Query().Get("source"), Follow: r.URL.Query().Get("follow") == "true"}
	if t := r.URL.Query().Get("tail"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil {
			reply(w, nil, badRequest(fmt.Errorf("tail: %w", err)))
			return
		}
		q.Tail = n
	}
	past, ch, err := s.ctrl.Logs(r.Context(), q)
	if err != nil {
		reply(w, nil, err)
		return
	}
	sw := newStream(w)
	for _, l := range past {
		if sw.send(l) != nil {
			return
		}
	}
	if sw.flush() != nil || ch == nil {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case l, ok := <-ch:
			if !ok {
				return
			}
			if sw.send(l) != nil {
				return
			}
			if len(ch) == 0 && sw.flush() != nil {
				return
			}
		}
	}
}

func (s *Server) messages(w http.ResponseWriter, r *http.Request) {
	var q MessageQuery
	if err := json.NewDecoder(r.Body).Decode(&q); err != nil {
		reply(w, nil, badRequest(err))
		return
	}
	ch, err := s.ctrl.Messages(r.Context(), q)
	if err != nil {
		reply(w, nil, err)
		return
	}
	sw := newStream(w)
	if sw.flush() != nil {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case m, ok := <-ch:
			if !ok {
				_ = sw.flush()
				return
			}
			if sw.send(m) != nil {
				return
			}
			if len(ch) == 0 && sw.flush() != nil {
				return
			}
		}
	}
}
