package control

import (
	"context"
	"net/http"

	"github.com/devstack-dev/devstack/internal/event"
)

// Endpoints says where the parts of a running stack listen, for clients that talk to them directly
// (Kafka clients, psql). It comes from the stack itself, so a stack started on other ports than
// devstack.yaml says (`devstack up --free-ports`, `devstack test`) is still found.
type Endpoints struct {
	Name     string `json:"name"`
	StateDir string `json:"state_dir"`
	// Control is the control API's host:port.
	Control string `json:"control,omitempty"`
	// Brokers are the Kafka bootstrap addresses (host:port); empty without a broker.
	Brokers []string `json:"brokers,omitempty"`
	// Postgres is PostgreSQL's host:port; "" without PostgreSQL.
	Postgres string `json:"postgres,omitempty"`
	// Gateway is the gateway's HTTP host:port; "" without a gateway.
	Gateway string `json:"gateway,omitempty"`
	// Registry is the schema registry's host:port; "" without a registry.
	Registry string `json:"registry,omitempty"`
	// Telemetry is the OTLP/HTTP receiver's host:port; "" without telemetry.
	Telemetry string `json:"telemetry,omitempty"`
}

// Component names as the stack publishes them on the bus (see internal/stack).
const (
	compControl   = "control"
	compBroker    = "broker"
	compPostgres  = "postgres"
	compGateway   = "gateway"
	compRegistry  = "registry"
	compTelemetry = "telemetry"
)

// EndpointsOf reads the addresses of the ready components of st.
func EndpointsOf(st event.State, stateDir string) Endpoints {
	e := Endpoints{Name: st.Name, StateDir: stateDir}
	for _, c := range st.Components {
		if c.Addr == "" || c.Status != event.StatusReady {
			continue
		}
		switch c.Name {
		case compControl:
			e.Control = c.Addr
		case compBroker:
			e.Brokers = append(e.Brokers, c.Addr)
		case compPostgres:
			e.Postgres = c.Addr
		case compGateway:
			e.Gateway = c.Addr
		case compRegistry:
			e.Registry = c.Addr
		case compTelemetry:
			e.Telemetry = c.Addr
		}
	}
	return e
}

func (s *Server) endpoints(w http.ResponseWriter, r *http.Request) {
	st, err := s.ctrl.Snapshot(r.Context())
	if err != nil {
		reply(w, nil, err)
		return
	}
	reply(w, EndpointsOf(st, s.stateDir), nil)
}

// Endpoints asks the stack where its broker, database, gateway and control API listen.
func (c *Client) Endpoints(ctx context.Context) (Endpoints, error) {
	var e Endpoints
	err := c.getJSON(ctx, http.MethodGet, "/v1/endpoints", nil, &e)
	return e, err
}
