#!/usr/bin/env bash
# The job benchmarks (issue #6), one run; see bench/README.md ("Job benchmarks"):
#   1. accept-to-ack latency of POST /v1/jobs (p50/p99/max over 1,000 jobs) vs GET /healthz on the same node;
#   2. a stdio embedder job through the node vs the bare Engine API calls for the same container (≥ 20 each);
#   3. a warm rest embedder job through the node vs POST /inference straight to a same-sandbox container.
# It starts `infra run` (dist/infra-linux-x64, native AOT; INFRA_BIN=PATH for another) under a throwaway state
# folder, on Docker. Results: bench/results/jobs/ (replaced each run): summary.md, ack.csv, stdio.csv, rest.csv,
# node.log (the node's own log), console.log. Needs root (the rest baseline enters a container's network
# namespace, as the node does). Extra arguments go to Infra.JobBench (e.g. --only ack --ack-jobs 2000).
# Exit 0 when every benchmark ran; a goal missed is reported in summary.md, not failed.   ≈ 2–4 min on the VM.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly project=bench/Infra.JobBench/Infra.JobBench.csproj
readonly results=bench/results/jobs
infra=${INFRA_BIN:-dist/infra-linux-x64}
started=$SECONDS

[ "$(id -u)" = 0 ] || { echo "bench/jobs.sh: needs root (setns into a container's network namespace, the engine socket); fix: run it as root" >&2; exit 1; }
if ! curl -sf --max-time 2 --unix-socket /var/run/docker.sock http://d/_ping >/dev/null; then
  scripts/engines.sh start docker >/dev/null
fi

echo "==> sample model bundles (examples/embedder/package.sh; rebuilds only when its inputs changed)"
examples/embedder/package.sh >/dev/null

if [ ! -x "$infra" ]; then
  echo "==> $infra is missing: publishing it (./build.sh x64)"
  # build.sh also enforces the binary's size budget; a binary over it is still the binary to measure.
  ./build.sh x64 || [ -x "$infra" ] || { echo "bench/jobs.sh: ./build.sh x64 produced no $infra" >&2; exit 1; }
fi
echo "==> node under test: $infra ($("$infra" version))"

echo "==> building $project (Release)"
dotnet build "$project" -c Release --nologo -v quiet
rm -rf -- "${results:?}"
mkdir -p "$results"

set +e
dotnet "bench/Infra.JobBench/bin/Release/net10.0/Infra.JobBench.dll" --infra "$infra" --out "$results" "$@" 2>&1 | tee "$results/console.log"
status=${PIPESTATUS[0]}
set -e

echo
echo "bench/jobs.sh: finished in $((SECONDS - started)) s; results in $results/ (exit $status)"
exit "$status"
