#!/usr/bin/env bash
# `make demo`: the node end to end on this machine, in a throwaway folder. A node key and a scheduler key;
# `infra run` trusting that scheduler; the sample embedder bundles served over HTTP; signed jobs sent with
# `infra jobs submit --wait` (stdio, then rest, then a cache hit); each receipt verified by the node's own
# code and, when node is installed, by ethers and OpenZeppelin's merkle-tree; status and the receipt batch.
# Exits non-zero on any failure; stops what it started and removes the folder on exit. Needs root (the
# engines do), Docker or Podman, python3, gcc; node + npm for the bundle CARs and the independent check.
# INFRA_BIN overrides the binary (default dist/infra-linux-x64, built with `make native` when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

bin=${INFRA_BIN:-$repo/dist/infra-linux-x64}
work=$(mktemp -d /tmp/inframind-demo.XXXXXX)
pids=()
cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "$status" -ne 0 ] && [ -s "$work/agent.log" ]; then
    echo "--- last lines of the agent log ($work/agent.log) ---" >&2
    tail -n 30 "$work/agent.log" >&2 || true
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
fail() { echo "demo: $*" >&2; exit 1; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_http() { # $1 url $2 what $3 pid
  for _ in $(seq 1 100); do
    curl -sf --max-time 1 "$1" >/dev/null 2>&1 && return 0
    kill -0 "$3" 2>/dev/null || fail "$2 exited before it answered on $1"
    sleep 0.2
  done
  fail "$2 did not answer on $1 within 20 s"
}
json() { python3 -c "import json, sys; d = json.load(open(sys.argv[1])); print($2)" "$1"; }
started=$(date +%s)

step "the binary"
if [ ! -x "$bin" ]; then
  make native
fi
echo "$bin: $(stat -c %s "$bin") bytes, no .NET runtime needed"
"$bin" version

step "a container engine"
if ! scripts/engines.sh status docker >/dev/null 2>&1 && ! scripts/engines.sh status podman >/dev/null 2>&1; then
  scripts/engines.sh start docker
fi
scripts/engines.sh status docker podman || true

step "the sample model, packaged as two bundles (examples/embedder/package.sh)"
examples/embedder/package.sh >"$work/bundles.json" 2>"$work/package.log" || { cat "$work/package.log" >&2; fail "examples/embedder/package.sh failed"; }
grep -E 'model_hash|up to date' "$work/package.log" || true
dist=$repo/examples/embedder/dist
hash_of() { json "$work/bundles.json" "next(b['model_hash'] for b in d['bundles'] if b['protocol'] == '$1')"; }
stdio_hash=$(hash_of stdio)
rest_hash=$(hash_of rest)
echo "embedder-stdio.tar.gz  $stdio_hash"
echo "embedder-rest.tar.gz   $rest_hash"

step "a node key and a scheduler key (infra init --keygen)"
node_id=$("$bin" init --keygen --identity "$work/node.key" 2>/dev/null)
scheduler=$("$bin" init --keygen --identity "$work/scheduler.key" 2>/dev/null)
echo "node      $node_id"
echo "scheduler $scheduler"

step "a config that trusts the scheduler, and infra run in the background"
port=$(free_port)
cat >"$work/config.yaml" <<EOF
node:
  identity: $work/node.key
  region: demo-local
  state_dir: $work/state
listener:
  bind: 127.0.0.1
  port: $port
control:
  socket: $work/control.sock
mesh:
  trusted_schedulers: ["$scheduler"]
  chain_id: 31337
cache:
  dir: $work/cache
EOF
cat "$work/config.yaml"
cfg=(--config "$work/config.yaml")
node_url=http://127.0.0.1:$port
"$bin" run "${cfg[@]}" >"$work/agent.log" 2>&1 &
agent=$!
pids+=("$agent")
wait_http "$node_url/healthz" "infra run" "$agent"
echo "infra run (pid $agent) answers on $node_url; its log is $work/agent.log"

step "the bundles served over plain HTTP (python3 -m http.server); the node checks their sha256"
http_port=$(free_port)
python3 -m http.server "$http_port" --bind 127.0.0.1 --directory "$dist" >"$work/http.log" 2>&1 &
pids+=("$!")
wait_http "http://127.0.0.1:$http_port/bundles.json" "the HTTP server" "$!"
echo "http://127.0.0.1:$http_port/ serves $dist"

# Submits one signed job and waits for it: progress on stderr, the job JSON into $1.
# --entrypoint: arguments to the image's ENTRYPOINT ["/embedder"] (model.yaml's "/embedder stdio" would be
# passed as arguments too, and the model would exit 64).
submit() { # $1 out file, $2 protocol, $3 model hash, $4 input
  local entrypoint=stdio
  [ "$2" = rest ] && entrypoint="serve 8080"
  "$bin" jobs submit "${cfg[@]}" --url "$node_url" --key "$work/scheduler.key" --model "$3" --entrypoint "$entrypoint" \
    --uri "http://127.0.0.1:$http_port/embedder-$2.tar.gz" --input "$4" --deadline-in 120 --wait >"$1"
}

show_job() { # $1 job JSON, $2 input text, $3 "brief" to leave the receipt out
  python3 - "$1" "$2" "$repo/examples/embedder/reference.py" "${3:-}" <<'EOF'
import json, subprocess, sys
job = json.load(open(sys.argv[1]))
out, r = job["output"], job["receipt"]
nonzero = sum(1 for v in out if v != 0)
print(f"embedding of {sys.argv[2]!r}: {len(out)} values ({nonzero} non-zero), first 8: {', '.join(f'{v:.6f}' for v in out[:8])}")
ref = json.loads(subprocess.run(["python3", sys.argv[3]], input=sys.argv[2].encode(), capture_output=True, check=True).stdout)
worst = max(abs(a - b) for a, b in zip(out, ref))
if len(ref) != len(out) or worst > 1e-6:
    sys.exit(f"demo: the output differs from reference.py (max difference {worst})")
print(f"matches examples/embedder/reference.py (max difference {worst:.1e})")
if sys.argv[4] == "brief":
    sys.exit(0)
print("receipt:")
for k in ["job_id", "status", "latency_ms", "cpu_ms", "peak_memory_bytes", "model_ref", "image_digest", "output_hash", "job_hash", "node"]:
    print(f"  {k:18} {r[k]}")
print(f"  {'signature':18} {r['signature'][:26]}...")
EOF
}

step "job 1: the stdio bundle, signed by the scheduler (infra jobs submit --wait)"
t0=$(date +%s%N)
submit "$work/job1.json" stdio "$stdio_hash" "Hello, World!"
t1=$(date +%s%N)
show_job "$work/job1.json" "Hello, World!"
echo "took $(( (t1 - t0) / 1000000 )) ms, bundle fetched, verified and loaded included"

step "infra receipts verify: the EIP-712 digest recomputed, the signature recovered to the node"
"$bin" receipts verify "$work/job1.json" --node "$node_id" --chain-id 31337
# A receipt with one field changed must fail.
python3 - "$work/job1.json" "$work/tampered.json" <<'EOF'
import json, sys
job = json.load(open(sys.argv[1]))
job["receipt"]["latency_ms"] += 1
job["receipt"]["eip712"]["message"]["latencyMs"] = str(job["receipt"]["latency_ms"])
json.dump(job, open(sys.argv[2], "w"))
EOF
if "$bin" receipts verify "$work/tampered.json" 2>"$work/tampered.err"; then
  fail "a tampered receipt verified"
fi
echo "tampered (latency_ms + 1): $(cat "$work/tampered.err")"

step "job 2: the rest bundle (the model serves POST /inference inside the sandbox)"
submit "$work/job2.json" rest "$rest_hash" "the quick brown fox"
show_job "$work/job2.json" "the quick brown fox"
"$bin" receipts verify "$work/job2.json" --node "$node_id"

step "job 3: the stdio bundle again: a cache hit, no download"
t0=$(date +%s%N)
submit "$work/job3.json" stdio "$stdio_hash" "a second input for the cached model"
t1=$(date +%s%N)
show_job "$work/job3.json" "a second input for the cached model" brief
echo "took $(( (t1 - t0) / 1000000 )) ms"

step "infra status (over the control socket)"
"$bin" status "${cfg[@]}"
"$bin" status "${cfg[@]}" --json | python3 -c 'import json, sys; s = json.load(sys.stdin); sys.exit(0 if s["jobs_served"] >= 3 and s["cache_hit_ratio"] > 0 else f"demo: status says {s}")'

step "infra receipts ls and the signed batch (the agent holds the log, so batch asks it)"
"$bin" receipts ls "${cfg[@]}"
mkdir -p "$work/verify"
"$bin" receipts batch "${cfg[@]}" --out "$work/verify/demo.batch.json"
json "$work/verify/demo.batch.json" "f\"root {d['root']}, {d['count']} receipts, format {d['dump']['format']}, signed by {d['node']}\""

step "independent check: ethers verifyTypedData and OpenZeppelin StandardMerkleTree.load"
for n in 1 2 3; do
  json "$work/job$n.json" "json.dumps(d['receipt'])" >"$work/verify/job$n.receipt.json"
done
if command -v node >/dev/null && command -v npm >/dev/null; then
  if [ ! -d tests/vectors/merkle/node_modules/@openzeppelin/merkle-tree ]; then
    (cd tests/vectors/merkle && npm ci --no-audit --no-fund --silent)
  fi
  node tests/vectors/merkle/verify-receipts.mjs "$work/verify"
else
  echo "node is not installed: skipped (apt-get install -y nodejs npm)"
fi

step "infra run stopped (SIGTERM drains); offline, batch reads the log and signs with the node key itself"
kill -TERM "$agent"
wait "$agent" || fail "infra run exited with $? on SIGTERM"
pids=("${pids[@]/$agent}")
tail -n 2 "$work/agent.log"
"$bin" receipts batch "${cfg[@]}" --out "$work/offline.batch.json"
online=$(json "$work/verify/demo.batch.json" "d['root']")
offline=$(json "$work/offline.batch.json" "d['root']")
[ "$online" = "$offline" ] || fail "the offline batch root $offline differs from the agent's $online"
echo "same root as the agent's: $offline"

echo
echo "demo: all steps passed in $(( $(date +%s) - started )) s"
