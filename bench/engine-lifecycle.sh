#!/usr/bin/env bash
# Whole container lifecycles (create + start + wait + remove of inframind-test/probe:1 running `exit 0`) through
# the node's EngineClient, through the same 4 Engine API calls made with curl, and through the engine's CLI
# (`docker run --rm` / `podman run --rm`), interleaved round-robin in one run: 3 warmup + 25 measured rounds.
# Prints median, p90, min per method and the client/curl and client/CLI ratios; writes
# bench/results/engine/lifecycle-<engine>.{md,csv}. Needs root (the engines' sockets) and the probe image
# (tests/fixtures/containers/build-images.sh); start the engines with scripts/engines.sh.
# Usage: bench/engine-lifecycle.sh [docker] [podman] [-- lifecycle options, e.g. --iterations 40 --no-cli]
# Takes about 90 s on the 2-core workspace VM (both engines).
set -euo pipefail
cd "$(dirname "$0")/.."

readonly project=bench/Infra.EngineBench/Infra.EngineBench.csproj
engines=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
  case "$1" in
    docker | podman) engines+=("$1") ;;
    *) echo "usage: bench/engine-lifecycle.sh [docker] [podman] [-- lifecycle options]" >&2; exit 2 ;;
  esac
  shift
done
[ "${1:-}" = -- ] && shift
[ ${#engines[@]} -gt 0 ] || engines=(docker podman)

if [ "${ENGINE_BENCH_NO_BUILD:-0}" != 1 ]; then
  echo "==> building $project (Release)"
  dotnet build "$project" -c Release --nologo -v quiet
fi

status=0
for engine in "${engines[@]}"; do
  echo
  echo "==> lifecycle: $engine"
  dotnet run --project "$project" -c Release --no-build -- lifecycle --engine "$engine" --out "$PWD/bench/results/engine" "$@" || status=1
done
exit "$status"
