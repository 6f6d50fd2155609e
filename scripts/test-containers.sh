#!/usr/bin/env bash
# The --containers tests on a real Docker engine (run it under scripts/docker-engine.sh run --, which sets
# DOCKER_HOST): builds the local images when missing or changed (images/build.sh), then runs the real-engine
# tests of internal/containers and internal/stack and the sample suite through `devstack test --containers`
# (tests/containers) with those images. Prints how long the image build and the tests took.
# Env: GO (default go), DEVSTACK_BIN (the devstack binary the sample suite runs; default: built by the test).
set -euo pipefail
cd "$(dirname "$0")/.."
go="${GO:-go}"

t0=$SECONDS
mapfile -t images < <(images/build.sh)
build=$((SECONDS - t0))
echo "test-containers: images ${images[*]} ready in ${build} s" >&2

export DEVSTACK_KAFKA_IMAGE="${images[0]}" DEVSTACK_POSTGRES_IMAGE="${images[1]}" DEVSTACK_REQUIRE_CONTAINERS=1
t1=$SECONDS
rc=0
"$go" test -race -count=1 -timeout 15m -run 'TestRealContainers|TestMissingImage|TestContainerDatabaseLikeEmbedded' ./internal/containers ./internal/stack || rc=$?
unit=$((SECONDS - t1))
t2=$SECONDS
if [[ $rc == 0 ]]; then
	"$go" test -count=1 -timeout 35m -v ./tests/containers || rc=$?
fi
e2e=$((SECONDS - t2))
echo "test-containers: image build ${build} s, engine tests ${unit} s, sample suite with --containers ${e2e} s" >&2
exit "$rc"
