#!/usr/bin/env bash
# Runs the crypto benchmarks with a short job (1 launch, 3 warmup, 5 measured iterations), writes the reports
# to bench/results/, prints the markdown table, and exits non-zero when a benchmark fails to run or the
# allocation budget is broken (Keccak*, Eip712*, HttpParse*, HttpServe*, FrameDemux* and Secp256k1VerifyKnownSigner* must
# allocate 0 B/op). `make bench` calls this; `make bench-budget` (and CI) calls it with --budget-only: the budgeted ones alone.
# Usage: bench/run.sh [--budget-only] [BenchmarkDotNet options, e.g. --filter '*Keccak*']
# BENCH_VERBOSE=1 shows BenchmarkDotNet's full output instead of one line per benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly project=bench/Infra.Benchmarks/Infra.Benchmarks.csproj
readonly results=bench/results
readonly console_log=$results/console.log

started=$SECONDS
echo "==> building $project (Release)"
dotnet build "$project" -c Release --nologo -v quiet

# Drop the previous run's reports so a failed run never shows a stale table; README.md stays.
rm -rf -- "${results:?}/results"
rm -f -- "$results"/*.log
mkdir -p "$results"

echo "==> running benchmarks (full output: $console_log)"
progress='^// Benchmark: |^allocation budget'
[ "${BENCH_VERBOSE:-0}" = 1 ] && progress=''
set +e
dotnet run --project "$project" -c Release --no-build -- \
  --budget --artifacts "$PWD/$results" "$@" 2>&1 | tee "$console_log" | grep --line-buffered -E "$progress"
status=${PIPESTATUS[0]}
set -e

shopt -s nullglob
tables=("$results"/results/*-report-github.md)
if [ ${#tables[@]} -gt 0 ]; then
  for table in "${tables[@]}"; do
    echo
    echo "==> $table"
    cat "$table"
  done
else
  echo "bench/run.sh: no report was written; the end of $console_log:" >&2
  tail -n 40 "$console_log" >&2
fi

echo
echo "bench/run.sh: finished in $((SECONDS - started)) s with exit code $status"
exit "$status"
