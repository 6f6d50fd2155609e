// Package e2e is the end-to-end suite of the sample stack: it drives devstack.yaml's services only through
// the gateway (and the broker, for the poison message), as `devstack test` runs it:
//
//	go test -tags e2e -count=1 -v ./...
//
// It reads GATEWAY_URL and KAFKA_BROKERS from the environment devstack gives test commands. The
// hot-reload test also needs the devstack binary (DEVSTACK_BIN, default ../bin/devstack): it starts a
// second copy of the stack on other ports in a temporary directory.
package e2e
