#!/usr/bin/env bash
# The Engine API client benchmarks, one run (see bench/README.md, "Engine API client"):
#   1. bench/engine-lifecycle.sh: whole lifecycles, EngineClient vs curl vs docker/podman run (Docker and Podman);
#   2. RoundTripBenchmarks (BenchmarkDotNet, short job): ping and image inspect, EngineClient vs Docker.DotNet,
#      mean time and allocated bytes per call (Docker only).
# Everything lands in bench/results/engine/ (replaced on every run); console.log has the whole output.
# Needs root, both engines up (scripts/engines.sh start) and the probe image (tests/fixtures/containers/build-images.sh).
# Usage: bench/engine.sh [lifecycle options, e.g. --iterations 40]        about 3 minutes on the 2-core VM.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly project=bench/Infra.EngineBench/Infra.EngineBench.csproj
readonly results=bench/results/engine
started=$SECONDS

for socket in /var/run/docker.sock /run/podman/podman.sock; do
  if ! curl -sf --max-time 2 --unix-socket "$socket" http://d/_ping >/dev/null; then
    echo "bench/engine.sh: no engine answers on $socket; fix: scripts/engines.sh start" >&2
    exit 1
  fi
done

echo "==> building $project (Release)"
dotnet build "$project" -c Release --nologo -v quiet
rm -rf -- "${results:?}"
mkdir -p "$results"

set +e
{
  status=0
  ENGINE_BENCH_NO_BUILD=1 bench/engine-lifecycle.sh docker podman -- "$@" || status=1
  echo
  echo "==> round trips: EngineClient vs Docker.DotNet (BenchmarkDotNet, short job; full output: $results/roundtrips.log)"
  dotnet run --project "$project" -c Release --no-build -- roundtrips 2>&1 |
    tee "$results/roundtrips.log" | grep --line-buffered -E '^// Benchmark: |^\| |^Run time'
  [ "${PIPESTATUS[0]}" = 0 ] || status=1
  exit "$status"
} 2>&1 | tee "$results/console.log"
status=${PIPESTATUS[0]}
set -e

echo
echo "bench/engine.sh: finished in $((SECONDS - started)) s; results in $results/"
exit "$status"
