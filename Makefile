# devstack — build, run and test. `make up` runs the sample stack; `make test` runs every test.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
GO      ?= go
BIN     := bin/devstack
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS := -X github.com/devstack-dev/devstack/internal/cli.Version=$(VERSION) -X github.com/devstack-dev/devstack/internal/cli.Commit=$(COMMIT)

.PHONY: all build up test test-go test-deps test-samples test-stack tools vet fmt-check bench fuzz clean goreleaser release-check

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

## test-deps: dependencies of the integration tests (real Kafka clients in Node and Python, sample services)
test-deps: tools
	$(GO) mod download
	./tests/kafkaclients/setup.sh
	$(MAKE) -C sample-services setup

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

GOTESTSUM := $(GO) run gotest.tools/gotestsum@v1.13.0

## test-go: Go unit and integration tests (real broker, real Postgres, real processes, real clients), with
## the race detector; skipped tests are listed with their reasons at the end
test-go: build
	DEVSTACK_REQUIRE_ALL=1 DEVSTACK_BIN=$(CURDIR)/$(BIN) $(GOTESTSUM) --format pkgname -- -race -count=1 -timeout 25m ./...
	@# the gateway's net/http path alone (it serves TLS and whatever the event loops hand over)
	DEVSTACK_GATEWAY_NETHTTP=1 $(GO) test -count=1 ./internal/proxy

## test-samples: each sample service's own test runner (jest, go test, Django)
test-samples:
	$(MAKE) -C sample-services test

## test-stack: the end-to-end suite through the gateway, via `devstack test`
test-stack: build
	./$(BIN) test --junit .devstack-junit.xml

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
test: test-deps fmt-check vet release-check test-go test-samples test-stack

## bench: run every benchmark and write docs/benchmarks.md (AREAS="core broker" to re-run only some)
bench: build
	./scripts/bench.sh $(AREAS)

## fuzz: run the config loader's fuzzers (any input; inputs at the nesting, size and ${VAR} expansion limits)
fuzz:
	$(GO) test ./internal/config/ -run '^$$' -fuzz FuzzLoad -fuzztime 60s -fuzzminimizetime 3s
	$(GO) test ./internal/config/ -run '^$$' -fuzz FuzzLimits -fuzztime 30s -fuzzminimizetime 3s
	$(GO) test ./internal/proxy/ -run '^$$' -fuzz FuzzParseRequest -fuzztime 60s
	$(GO) test ./internal/proxy/ -run '^$$' -fuzz FuzzParseResponse -fuzztime 30s

clean:
	rm -rf bin .devstack .devstack-junit.xml
