module github.com/devstack-dev/devstack/e2e

go 1.26.0

require (
	github.com/coder/websocket v1.8.15
	// the hot-reload test copies the stack with internal/stackcopy (shared with tests/tui)
	github.com/devstack-dev/devstack v0.0.0-00010101000000-000000000000
	github.com/twmb/franz-go v1.22.3
)

require github.com/hamba/avro/v2 v2.31.0

require (
	github.com/go-logfmt/logfmt v0.6.1 // indirect
	github.com/go-viper/mapstructure/v2 v2.5.0 // indirect
	github.com/goccy/go-yaml v1.19.2 // indirect
	github.com/json-iterator/go v1.1.12 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/modern-go/concurrent v0.0.0-20180306012644-bacd9c7ef1dd // indirect
	github.com/modern-go/reflect2 v1.0.2 // indirect
	github.com/pierrec/lz4/v4 v4.1.33 // indirect
	github.com/twmb/franz-go/pkg/kmsg v1.15.1 // indirect
)

replace github.com/devstack-dev/devstack => ../
