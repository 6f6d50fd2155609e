package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/devstack-dev/devstack/internal/event"
)

// ErrNotRunning says no stack is running for this state directory.
var ErrNotRunning = errors.New("no devstack is running")

// Client is a Controller that talks to a running stack's control API.
type Client struct {
	base  string
	token string
	http  *http.Client
}

var _ Controller = (*Client)(nil)

// Dial finds the running stack whose state directory is stateDir (via its endpoint file).
func Dial(stateDir string) (*Client, error) {
	file := filepath.Join(stateDir, EndpointFile)
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w (no %s): start it with `devstack up`", ErrNotRunning, file)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	var ep Endpoint
	if err := json.Unmarshal(b, &ep); err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	if ep.PID > 0 && syscall.Kill(ep.PID, 0) == syscall.ESRCH {
		return nil, fmt.Errorf("%w (devstack pid %d from %s has exited): start it with `devstack up`", ErrNotRunning, ep.PID, file)
	}
	return NewClient(ep.Addr, ep.Token), nil
}

// NewClient returns a client for the control API at addr (host:port).
func NewClient(addr, token string) *Client {
	return &Client{base: "http://" + addr, token: token, http: &http.Client{Transport: &http.Transport{DisableCompression: true}}}
}

func (c *Client) do(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("control API at %s: %w (is `devstack up` still running?)", c.base, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		var e struct{ Error string }
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = string(bytes.TrimSpace(b))
		}
		if resp.StatusCode == http.StatusNotFound {
			return nil, fmt.Errorf("%s: %w", e.Error, ErrNotFound)
		}
		if resp.StatusCode == http.StatusServiceUnavailable && e.Error == ErrNoTelemetry.Error() {
			return nil, ErrNoTelemetry
		}
		return nil, errors.New(e.Error)
	}
	return resp, nil
}

func (c *Client) getJSON(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.do(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// stream decodes NDJSON values of type T from resp into a channel until EOF or ctx ends.
func stream[T any](ctx context.Context, resp *http.Response) <-chan T {
	ch := make(chan T, 256)
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		dec := json.NewDecoder(bufio.NewReaderSize(resp.Body, 64<<10))
		for {
			var v T
			if err := dec.Decode(&v); err != nil {
				return
			}
			select {
			case ch <- v:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}

// Subscribe implements Controller.
func (c *Client) Subscribe(ctx context.Context) (event.State, <-chan event.Event, error) {
	resp, err := c.do(ctx, http.MethodGet, "/v1/events", nil)
	if err != nil {
		return event.State{}, nil, err
	}
	dec := json.NewDecoder(resp.Body)
	var f eventFrame
	if err := dec.Decode(&f); err != nil || f.State == nil {
		resp.Body.Close()
		return event.State{}, nil, fmt.Errorf("control API: bad event stream: %v", err)
	}
	// continue decoding from the same decoder (it may have buffered past the first frame)
	ch := make(chan event.Event, 256)
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		for {
			var fr eventFrame
			if err := dec.Decode(&fr); err != nil {
				return
			}
			if fr.Event == nil {
				continue
			}
			select {
			case ch <- *fr.Event:
			case <-ctx.Done():
				return
			}
		}
	}()
	return *f.State, ch, nil
}

// Snapshot implements Controller.
func (c *Client) Snapshot(ctx context.Context) (event.State, error) {
	var st event.State
	err := c.getJSON(ctx, http.MethodGet, "/v1/state", nil, &st)
	return st, err
}

// Logs implements Controller. Without Follow, the returned channel is nil.
func (c *Client) Logs(ctx context.Context, q LogQuery) ([]event.LogLine, <-chan event.LogLine, error) {
	v := url.Values{}
	if q.Source != "" {
		v.Set("source", q.Source)
	}
	if q.Tail != 0 {
		v.Set("tail", strconv.Itoa(q.Tail))
	}
	if !q.Follow {
		resp, err := c.do(ctx, http.MethodGet, "/v1/logs?"+v.Encode(), nil)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		var out []event.LogLine
		dec := json.NewDecoder(resp.Body)
		for {
			var l event.LogLine
			if err := dec.Decode(&l); err != nil {
				if errors.Is(err, io.EOF) {
					return out, nil, nil
				}
				return out, nil, fmt.Errorf("control API: read logs: %w", err)
			}
			out = append(out, l)
		}
	}
	v.Set("follow", "true")
	resp, err := c.do(ctx, http.MethodGet, "/v1/logs?"+v.Encode(), nil)
	if err != nil {
		return nil, nil, err
	}
	return nil, stream[event.LogLine](ctx, resp), nil
}

func (c *Client) action(ctx context.Context, service, action string) error {
	return c.getJSON(ctx, http.MethodPost, "/v1/services/"+url.PathEscape(service)+"/"+action, nil, nil)
}

// Restart implements Controller.
func (c *Client) Restart(ctx context.Context, s string) error { return c.action(ctx, s, "restart") }

// Stop implements Controller.
func (c *Client) Stop(ctx context.Context, s string) error { return c.action(ctx, s, "stop") }

// Start implements Controller.
func (c *Client) Start(ctx context.Context, s string) error { return c.action(ctx, s, "start") }

// Rebuild implements Controller.
func (c *Client) Rebuild(ctx context.Context, s string) error { return c.action(ctx, s, "rebuild") }

// Topics implements Controller.
func (c *Client) Topics(ctx context.Context) ([]event.TopicInfo, error) {
	var out []event.TopicInfo
	err := c.getJSON(ctx, http.MethodGet, "/v1/topics", nil, &out)
	return out, err
}

// Groups implements Controller.
func (c *Client) Groups(ctx context.Context) ([]event.GroupInfo, error) {
	var out []event.GroupInfo
	err := c.getJSON(ctx, http.MethodGet, "/v1/groups", nil, &out)
	return out, err
}

// ResetGroup implements Controller.
func (c *Client) ResetGroup(ctx context.Context, r ResetRequest) error {
	return c.getJSON(ctx, http.MethodPost, "/v1/groups/reset", r, nil)
}

// Messages implements Controller.
func (c *Client) Messages(ctx context.Context, q MessageQuery) (<-chan event.Message, error) {
	resp, err := c.do(ctx, http.MethodPost, "/v1/messages", q)
	if err != nil {
		return nil, err
	}
	return stream[event.Message](ctx, resp), nil
}

// Produce implements Controller.
func (c *Client) Produce(ctx context.Context, topic string, msgs []event.Message) error {
	return c.getJSON(ctx, http.MethodPost, "/v1/produce/"+url.PathEscape(topic), msgs, nil)
}

// Routes implements Controller.
func (c *Client) Routes(ctx context.Context) ([]event.RouteStats, error) {
	var out []event.RouteStats
	err := c.getJSON(ctx, http.MethodGet, "/v1/routes", nil, &out)
	return out, err
}

// Traces implements Controller.
func (c *Client) Traces(ctx context.Context, q event.TraceQuery) ([]event.TraceSummary, error) {
	var out []event.TraceSummary
	err := c.getJSON(ctx, http.MethodPost, "/v1/traces", q, &out)
	return out, err
}

// Trace implements Controller.
func (c *Client) Trace(ctx context.Context, traceID string) ([]event.Span, error) {
	var out []event.Span
	err := c.getJSON(ctx, http.MethodGet, "/v1/traces/"+url.PathEscape(traceID), nil, &out)
	return out, err
}

// ServiceMetrics implements Controller.
func (c *Client) ServiceMetrics(ctx context.Context, service string) ([]event.ServiceMetric, error) {
	var out []event.ServiceMetric
	err := c.getJSON(ctx, http.MethodGet, "/v1/services/"+url.PathEscape(service)+"/metrics", nil, &out)
	return out, err
}
