package config

import (
	"testing"
)

// Mistakes a new user makes first get one error that says what to do.
func TestHints(t *testing.T) {
	for _, tt := range []struct {
		name, src, want string
	}{
		{"a:b in a flow list is a mapping to YAML",
			"gateway:\n  routes:\n    - {path: /api/orders, service: orders, auth: required, scopes: [orders:write]}\nservices:\n  orders: {command: x}\n",
			`devstack.yaml:3:69: gateway.routes[0].scopes[0]: must be a string, got a mapping (YAML reads orders:write in [ ] or { } as key: value); quote it: "orders:write"`},
		{"a:b as a value in a flow mapping is a string",
			"services:\n  orders: {command: x, env: {SCOPE: a:b}, database: [a:b]}\n",
			`devstack.yaml:2:53: services.orders.database: must be true, false or a database name, got a list`},
		{"a real mapping where a string belongs gets no quoting hint",
			"services:\n  orders: {command: {a: b}}\n",
			`devstack.yaml:2:21: services.orders.command: must be a string, got a mapping`},
		{"service keys at the indent of service names",
			"services:\n  users:\n    command: node main.js\n  orders:\n  command: ./orders\n  port: 3001\n",
			`devstack.yaml:5:3: services.command: command is a key of a service, not a service: indent it and the lines after it under orders`},
		{"one key of a service at the indent of service names",
			"services:\n  orders:\n    command: ./orders\n  port: 3001\n  users:\n    command: node main.js\n",
			`devstack.yaml:4:3: services.port: port is a key of a service, not a service: indent it under orders`},
		{"a service name indented by one space",
			"services:\n  users:\n    command: node main.js\n   orders:\n    command: ./orders\n",
			`devstack.yaml:4:4: syntax error: value is not allowed in this context; check this line's indentation against the lines above it`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadBytes("devstack.yaml", []byte(tt.src), t.TempDir(), nil)
			if err == nil || err.Error() != tt.want {
				t.Errorf("got\n%v\nwant\n%s", err, tt.want)
			}
		})
	}
}
