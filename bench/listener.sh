#!/usr/bin/env bash
# The listener benchmark (issue #5): requests per second and resident memory for GET /healthz and
# GET /v1/status, infra's own HTTP/1.1 listener against an ASP.NET Core native-AOT minimal API serving the
# same (bench/AspNetBaseline), one after the other on this machine, same wrk settings.
# Goal: at least 1.0x the baseline's throughput at no more than 0.5x its memory.
# Usage: bench/listener.sh [seconds per run, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}
connections=${BENCH_CONNECTIONS:-32}
out=bench/results/listener
mkdir -p "$out" obj/bench

command -v wrk >/dev/null || { echo "bench/listener.sh: wrk is missing: apt-get install -y wrk" >&2; exit 1; }
[ -x dist/infra-linux-x64 ] || ./build.sh x64
if [ ! -x obj/bench/aspnet/AspNetBaseline ] || [ -n "$(find bench/AspNetBaseline -newer obj/bench/aspnet/AspNetBaseline -name '*.cs' -o -newer obj/bench/aspnet/AspNetBaseline -name '*.csproj')" ]; then
  echo "==> publishing the ASP.NET Core baseline (native AOT)"
  dotnet publish bench/AspNetBaseline -c Release -r linux-x64 -o obj/bench/aspnet --nologo -v quiet >/dev/null
fi
scripts/engines.sh start >/dev/null

home=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$home"; }
trap cleanup EXIT

# A standalone node under a throwaway home: its own key, state and control socket, port 9101.
HOME=$home dist/infra-linux-x64 init --keygen >/dev/null
cat >"$home/config.yaml" <<YAML
node:
  identity: $home/.inframind/identity.key
  state_dir: $home/state
listener:
  bind: 127.0.0.1
  port: 9101
control:
  socket: $home/control.sock
YAML

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
wait_up() { for _ in $(seq 100); do curl -sf "$1/healthz" >/dev/null && return 0; sleep 0.1; done; echo "bench/listener.sh: $1 did not come up" >&2; exit 1; }

declare -A rps peak idle
run_wrk() { # name url path
  wrk -t1 -c"$connections" -d"${duration}s" "$2$3" >"$out/$1${3//\//_}.wrk" 2>&1
  awk '/Requests\/sec/ {print $2}' "$out/$1${3//\//_}.wrk"
}

measure() { # name pid url
  local name=$1 pid=$2 url=$3
  wait_up "$url"
  sleep 1
  idle[$name]=$(rss_kb "$pid")
  wrk -t1 -c"$connections" -d2s "$url/healthz" >/dev/null 2>&1 # warm-up
  for path in /healthz /v1/status; do
    rps[$name$path]=$(run_wrk "$name" "$url" "$path")
    if grep -qE 'Non-2xx|Socket errors' "$out/$name${path//\//_}.wrk"; then
      echo "bench/listener.sh: $name $path had errors:" >&2; cat "$out/$name${path//\//_}.wrk" >&2; exit 1
    fi
  done
  peak[$name]=$(hwm_kb "$pid")
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

echo "==> infra run (listener on 127.0.0.1:9101), ${duration}s per path, wrk -t1 -c$connections"
HOME=$home dist/infra-linux-x64 run --config "$home/config.yaml" 2>"$out/infra.log" &
pids+=($!); measure infra $! http://127.0.0.1:9101

echo "==> ASP.NET Core minimal API, native AOT (127.0.0.1:9100)"
BASELINE_URLS=http://127.0.0.1:9100 obj/bench/aspnet/AspNetBaseline >"$out/aspnet.log" 2>&1 &
pids+=($!); measure aspnet $! http://127.0.0.1:9100

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
{
  echo "# Listener benchmark ($(date -u +%Y-%m-%d), $(nproc) cores, wrk -t1 -c$connections -d${duration}s)"
  echo
  echo "| | infra | ASP.NET Core AOT | infra / baseline |"
  echo "| --- | ---: | ---: | ---: |"
  for path in /healthz /v1/status; do
    echo "| GET $path req/s | ${rps[infra$path]} | ${rps[aspnet$path]} | $(ratio "${rps[infra$path]}" "${rps[aspnet$path]}")x |"
  done
  echo "| idle RSS (MiB) | $(ratio "${idle[infra]}" 1024) | $(ratio "${idle[aspnet]}" 1024) | $(ratio "${idle[infra]}" "${idle[aspnet]}")x |"
  echo "| peak RSS under load (MiB) | $(ratio "${peak[infra]}" 1024) | $(ratio "${peak[aspnet]}" 1024) | $(ratio "${peak[infra]}" "${peak[aspnet]}")x |"
  echo
  echo "Goal: throughput >= 1.0x and memory <= 0.5x the baseline's."
} | tee "$out/summary.md"
