# devstack — build, run and test. `make up` runs the sample stack; `make test` runs every test.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
GO      ?= go
BIN     := bin/devstack
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS := -X github.com/devstack-dev/devstack/internal/cli.Version=$(VERSION) -X github.com/devstack-dev/devstack/internal/cli.Commit=$(COMMIT)

.PHONY: all build up test test-go test-deps test-samples test-stack test-external test-containers tools vet fmt-check cross bench fuzz clean goreleaser release-check

all: build

## build: compile bin/devstack
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/devstack

## up: build devstack and bring up devstack.yaml (the sample services install their own deps via setup:)
up: tools build
	./$(BIN) up

## tools: system packages the stack and tests need (PostgreSQL 15 server, tmux), installed when missing
tools:
	./scripts/ensure-tools.sh

## test-deps: dependencies of the integration tests (real Kafka clients in Node and Python, sample services,
## Apache Kafka's jars for tests/external, Apache Avro's jars for internal/schemas' differential test,
## Debian's prometheus for internal/cli's scrape test)
test-deps: tools
	$(GO) mod download
	./scripts/prometheus.sh
	./scripts/kafka-jars.sh >/dev/null
	./scripts/avro-jars.sh >/dev/null
	./tests/kafkaclients/setup.sh
	$(MAKE) -C sample-services setup

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## cross: what we can check of the platforms we cannot run here (no Mac in CI): for each of CROSS, the
## binary builds and every package and its tests vet and compile (test binaries are linked, then handed
## to `true` instead of run); a Windows build must stop with its one "use WSL2" error (README: Windows)
CROSS    ?= darwin/arm64 darwin/amd64
cross:
	@for p in $(CROSS); do \
		echo "cross: $$p"; \
		export GOOS=$${p%/*} GOARCH=$${p#*/}; \
		$(GO) build -o /dev/null ./cmd/devstack; \
		$(GO) vet ./...; \
		$(GO) test -vet=off -exec true ./... >/dev/null; \
	done
	@echo "cross: windows/amd64 (must fail, naming WSL2)"
	@out=$$(GOOS=windows GOARCH=amd64 $(GO) build -o /dev/null ./cmd/devstack 2>&1) && { echo "the Windows build succeeded; it should stop at cmd/devstack/main_windows.go"; exit 1; }; \
		grep -q 'undefined: devstack_runs_on_Windows_in_WSL2_see_README' <<<"$$out" || { echo "$$out"; exit 1; }

GOTESTSUM := $(GO) run gotest.tools/gotestsum@v1.13.0

## test-go: Go unit and integration tests (real broker, real Postgres, real processes, real clients), with
## the race detector; skipped tests are listed with their reasons at the end
test-go: build
	DEVSTACK_REQUIRE_ALL=1 DEVSTACK_BIN=$(CURDIR)/$(BIN) $(GOTESTSUM) --format pkgname -- -race -count=1 -timeout 35m ./...
	@# the gateway's net/http path alone (it serves TLS and whatever the event loops hand over)
	DEVSTACK_GATEWAY_NETHTTP=1 $(GO) test -count=1 ./internal/proxy

## test-external: only the external-sources proof (real Kafka and PostgreSQL that devstack did not start;
## part of test-go too)
test-external: build
	DEVSTACK_REQUIRE_ALL=1 DEVSTACK_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 25m -v ./tests/external

## test-samples: each sample service's own test runner (jest, go test, Django)
test-samples:
	$(MAKE) -C sample-services test

## test-stack: the end-to-end suite through the gateway, via `devstack test`
test-stack: build
	./$(BIN) test --junit .devstack-junit.xml

## test-containers: --containers on a real Docker engine (a private dockerd when none answers, stopped after)
## with local Kafka and PostgreSQL images built without a registry (images/build.sh), then the sample suite
## through `devstack test --containers`
test-containers: build
	DEVSTACK_BIN=$(CURDIR)/$(BIN) GO=$(GO) ./scripts/docker-engine.sh run -- ./scripts/test-containers.sh

## goreleaser: build the pinned GoReleaser once into ~/.cache/devstack-tools. Slow on a fresh machine
## (54 min measured: 6.5 min of CPU, the rest fetching its ~400 modules), so `make test` does not build it.
GORELEASER_VERSION := v2.17.0
GORELEASER := $(HOME)/.cache/devstack-tools/goreleaser-$(GORELEASER_VERSION)/goreleaser
goreleaser: $(GORELEASER)
$(GORELEASER):
	GOBIN=$(dir $(GORELEASER)) $(GO) install github.com/goreleaser/goreleaser/v2@$(GORELEASER_VERSION)

## release-check: `goreleaser check` of .goreleaser.yaml when the pinned GoReleaser is built; test-go always
## runs the equivalent check (TestGoReleaserConfig: the config's shape, and the four targets compile)
release-check:
	@if [ -x $(GORELEASER) ]; then $(GORELEASER) check; \
	else echo "release-check: no GoReleaser $(GORELEASER_VERSION) built (make goreleaser); tests/cli TestGoReleaserConfig checks .goreleaser.yaml instead"; fi

## test: everything CI runs
test: test-deps fmt-check vet cross release-check test-go test-samples test-stack test-containers

## bench: run every benchmark and write docs/benchmarks.md (AREAS="core broker" to re-run only some)
bench: build
	./scripts/bench.sh $(AREAS)

## fuzz: run the config loader's fuzzers (any input; inputs at the nesting, size and ${VAR} expansion limits),
## the gateway's parsers, the schema registry's API, the schema parsers and compatibility checkers, the
## registry wire format's decoder, the OTLP receiver's decoding, traceparent and structured log lines
fuzz:
	$(GO) test ./internal/config/ -run '^$$' -fuzz FuzzLoad -fuzztime 60s -fuzzminimizetime 3s
	$(GO) test ./internal/config/ -run '^$$' -fuzz FuzzLimits -fuzztime 30s -fuzzminimizetime 3s
	$(GO) test ./internal/proxy/ -run '^$$' -fuzz FuzzParseRequest -fuzztime 60s
	$(GO) test ./internal/proxy/ -run '^$$' -fuzz FuzzParseResponse -fuzztime 30s
	$(GO) test ./internal/schemareg/ -run '^$$' -fuzz FuzzRequest -fuzztime 60s
	$(GO) test ./internal/telemetry/ -run '^$$' -fuzz FuzzDecode -fuzztime 60s
	$(GO) test ./internal/telemetry/ -run '^$$' -fuzz FuzzAppendJSONString -fuzztime 30s
	$(GO) test ./internal/schemas/ -run '^$$' -fuzz FuzzParseAvro -fuzztime 30s
	$(GO) test ./internal/schemas/ -run '^$$' -fuzz FuzzAvroCompatible -fuzztime 30s
	$(GO) test ./internal/schemas/ -run '^$$' -fuzz FuzzParseJSON -fuzztime 30s
	$(GO) test ./internal/schemas/ -run '^$$' -fuzz FuzzCheckJSON -fuzztime 30s
	$(GO) test ./internal/schemas/ -run '^$$' -fuzz FuzzParseProto -fuzztime 30s
	$(GO) test ./internal/schemas/ -run '^$$' -fuzz FuzzCheckProto -fuzztime 30s
	$(GO) test ./internal/serde/ -run '^$$' -fuzz FuzzDecode -fuzztime 30s
	$(GO) test ./internal/event/ -run '^$$' -fuzz FuzzParseTraceparent -fuzztime 20s
	$(GO) test ./internal/event/ -run '^$$' -fuzz FuzzParseStructured -fuzztime 30s

clean:
	rm -rf bin .devstack .devstack-junit.xml
