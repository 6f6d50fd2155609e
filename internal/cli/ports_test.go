package cli

import (
	"slices"
	"testing"

	"github.com/devstack-dev/devstack/internal/config"
)

// An external broker or PostgreSQL listens nowhere devstack does (the schema registry does: it runs in
// devstack whatever the broker): `up` neither checks nor moves its port
// (a local Kafka on 9092 run by the user for broker.source: external is not "a taken port").
func TestComponentPortsLeaveExternalSourcesAlone(t *testing.T) {
	const services = `
services:
  api:
    command: "true"
    database: api
    port: 3000
`
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"embedded", "name: e\nbroker: {enabled: true}\n" + services,
			[]string{"control.port", "broker.port", "postgres.port", "registry.port", "telemetry.http_port", "telemetry.grpc_port"}},
		{"registry off", "name: e\nregistry: {enabled: false}\n" + services,
			[]string{"control.port", "broker.port", "postgres.port", "telemetry.http_port", "telemetry.grpc_port"}},
		{"telemetry without gRPC", "name: e\ntelemetry: {grpc_port: -1}\n" + services,
			[]string{"control.port", "broker.port", "postgres.port", "registry.port", "telemetry.http_port"}},
		{"telemetry off", "name: e\ntelemetry: {enabled: false}\n" + services,
			[]string{"control.port", "broker.port", "postgres.port", "registry.port"}},
		{"external broker and postgres", `name: x
broker:
  enabled: true
  source: external
  external: {bootstrap_servers: ["127.0.0.1:9092"]}
postgres:
  source: external
  external: {admin_url: "postgres://admin:pw@127.0.0.1:5432/postgres"}
` + services, []string{"control.port", "registry.port", "telemetry.http_port", "telemetry.grpc_port"}}, // the registry runs here whatever the broker
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.LoadBytes("devstack.yaml", []byte(tc.yaml), t.TempDir(), map[string]string{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range componentPorts(cfg) {
				got = append(got, r.key)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("component ports = %v, want %v", got, tc.want)
			}
		})
	}
}
