#!/usr/bin/env bash
# Bundle verification benchmark, one run (see bench/README.md, "Bundle verification"):
# a 256 MiB payload through HttpBundleFetcher (from a local HTTP server) and through CarBundleReader.ExtractAsync
# (from a CARv1 file), against sha256sum (and openssl dgst) over the same bytes; goal: >= 1 GB/s and >= 0.8 x sha256sum.
# Everything lands in bench/results/bundle/ (replaced on every run): summary.md, summary.txt (the SUMMARY lines:
# MB/s and × sha256sum per path, the previous HTTP pipeline A/B, the load), samples.csv, console.log.
# The inputs (about 0.5 GiB) are written under bench/results/bundle/work/ and deleted at the end (--keep keeps them).
# Usage: bench/bundle.sh [--runs N (7)] [--size-mib N (256)] [--keep]        about 1.5 minutes on the 2-core VM.
# Exit status: 0 both paths meet both goals; 3 a goal was missed (the report says which); 1 the run failed; 2 usage.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly project=bench/Infra.BundleBench/Infra.BundleBench.csproj
readonly results=bench/results/bundle
started=$SECONDS

if ! command -v sha256sum >/dev/null; then
  echo "bench/bundle.sh: sha256sum (coreutils) is needed as the baseline; fix: install coreutils" >&2
  exit 1
fi

echo "==> building $project (Release)"
dotnet build "$project" -c Release --nologo -v quiet
rm -rf -- "${results:?}"
mkdir -p "$results"

set +e
dotnet run --project "$project" -c Release --no-build -- --results "$results" "$@" 2>&1 | tee "$results/console.log"
status=${PIPESTATUS[0]}
set -e

echo
if [[ -f "$results/summary.txt" ]]; then
  cat "$results/summary.txt"
fi
echo "bench/bundle.sh: load average $(cut -d' ' -f1-3 /proc/loadavg); finished in $((SECONDS - started)) s (exit $status); results in $results/"
exit "$status"
