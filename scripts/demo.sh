#!/usr/bin/env bash
# `make demo`: the node end to end on this machine, in a throwaway folder. A node key and a scheduler key;
# the reference scheduler (tools/Scheduler) listening; `infra run` dialing it (mesh.endpoints) and trusting
# it; the node's hello verified and its heartbeats seen by the scheduler; a signed job assigned by the
# scheduler, followed to its receipt as the scheduler stored and acked it; the direct path (POST /v1/jobs,
# `infra jobs submit --wait`) for the rest bundle; a second scheduler job (a cache hit); each receipt verified
# by the node's own code and, when node is installed, by ethers and OpenZeppelin's merkle-tree; status and
# the receipt batch. Exits non-zero on any failure; stops what it started and removes the folder on exit.
# Needs root (the engines do), Docker or Podman, python3, gcc, the .NET SDK (the scheduler); node + npm for
# the bundle CARs and the independent check.
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
  if [ "$status" -ne 0 ]; then
    for log in agent scheduler; do
      [ -s "$work/$log.log" ] || continue
      echo "--- last lines of the $log log ($work/$log.log) ---" >&2
      tail -n 30 "$work/$log.log" >&2 || true
    done
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
# The scheduler's event record (GET /admin/events); fails the demo with curl's reason.
events() {
  local out
  out=$(curl -sS --max-time 5 "$admin_url/admin/events" 2>&1) || fail "GET /admin/events from the scheduler failed: $out"
  printf '%s\n' "$out"
}
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

step "the reference scheduler (tools/Scheduler: gRPC Mesh/Connect, admin API, stores and acks receipts)"
sched_dll=$repo/tools/Scheduler/bin/Debug/net10.0/inframind-scheduler.dll
# Built only when something it is made of (it compiles the node's project for the message types) is newer than
# the last build this script made: a no-op `dotnet build` still costs seconds, and an unchanged dll keeps its time.
stamp=$repo/tools/Scheduler/obj/demo-build.stamp
if [ ! -f "$sched_dll" ] || [ ! -f "$stamp" ] || [ -n "$(find tools/Scheduler src/Infra Directory.Packages.props Directory.Build.props \( -path '*/bin' -o -path '*/obj' \) -prune -o -type f -newer "$stamp" -print -quit)" ]; then
  echo "building tools/Scheduler (dotnet build tools/Scheduler)..."
  dotnet build tools/Scheduler -v quiet --nologo >"$work/scheduler-build.log" 2>&1 || { tail -n 30 "$work/scheduler-build.log" >&2; fail "dotnet build tools/Scheduler failed (log above)"; }
  touch "$stamp"
fi
sched_port=$(free_port)
admin_port=$(free_port)
admin_url=http://127.0.0.1:$admin_port
heartbeat_ms=1000
dotnet "$sched_dll" --port "$sched_port" --admin-port "$admin_port" --key "$work/scheduler.key" --chain-id 31337 \
  --heartbeat-ms "$heartbeat_ms" --receipts "$work/scheduler-receipts.jsonl" >"$work/scheduler.log" 2>&1 &
sched=$!
pids+=("$sched")
wait_http "$admin_url/admin/healthz" "the scheduler" "$sched"
head -n 1 "$work/scheduler.log"
grep -q "^scheduler $scheduler " "$work/scheduler.log" || fail "the scheduler did not load $work/scheduler.key (it says: $(head -n 1 "$work/scheduler.log"))"

step "a config that dials the scheduler and trusts its key, and infra run in the background"
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
  endpoints: ["http://127.0.0.1:$sched_port"]
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

step "registration: the node's signed hello, verified by the scheduler, then heartbeats every $heartbeat_ms ms"
for _ in $(seq 1 50); do
  events >"$work/events.json"
  json "$work/events.json" "sum(1 for e in d if e['kind'] == 'heartbeat')" | grep -qvx 0 && break
  sleep 0.2
done
sleep 2.2 # two more heartbeats to show their pace
events >"$work/events.json"
python3 - "$work/events.json" "$node_id" <<'EOF'
import json, sys
events, node = json.load(open(sys.argv[1])), sys.argv[2]
hellos = [e for e in events if e["kind"] == "hello"]
if not hellos:
    sys.exit("demo: the scheduler saw no hello from the node; is mesh.endpoints right?")
h = hellos[0]
if not h.get("valid") or h.get("node") != node:
    sys.exit(f"demo: the scheduler refused the hello: {h}")
print(f"scheduler: hello from {h['node']} (EIP-712 signature recovered to the node: valid)")
beats = [e for e in events if e["kind"] == "heartbeat"]
if len(beats) < 2:
    sys.exit(f"demo: only {len(beats)} heartbeat(s) in 2 s")
for b in beats[-3:]:
    print(f"scheduler: heartbeat +{b['at_ms'] - h['at_ms']:>5} ms after the hello  {b.get('detail', '')}")
EOF
grep -m1 "mesh: connected" "$work/agent.log" || true

# Assigns a job through the scheduler (POST /admin/jobs: it signs the job for this node and sends it down the
# stream) and follows it: the scheduler's events (job sent, the node's ack, the receipt with its signature
# checked), stamped by the scheduler, and the node's own view of the job (GET /v1/jobs/{id}) as polled.
# Writes the node's job JSON into $1 once the scheduler has stored the receipt.
mesh_job() { # $1 out file, $2 job id, $3 model hash, $4 input
  python3 - "$admin_url" "$node_url" "$1" "$2" "$3" "http://127.0.0.1:$http_port/embedder-stdio.tar.gz" "$4" "$node_id" <<'EOF'
import json, sys, time, urllib.error, urllib.request
admin, node, out, job_id, model, uri, text, node_id = sys.argv[1:9]
def get(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)
draft = {"job_id": job_id, "model_hash": model, "container_uri": uri, "entrypoint": "stdio",
         "expected_schema": {"input": "text", "output": "embedding<float>"}, "input": text,
         "deadline": int(time.time()) + 120, "node": node_id}
request = urllib.request.Request(f"{admin}/admin/jobs", json.dumps(draft).encode(), {"content-type": "application/json"})
t0 = time.time() * 1000
try:
    urllib.request.urlopen(request, timeout=5).read()
except urllib.error.HTTPError as e:
    sys.exit(f"demo: the scheduler refused POST /admin/jobs: {e.code} {e.read().decode(errors='replace')}")
seen, state, deadline = set(), None, time.monotonic() + 100
lines = []
def say(at_ms, who, what):
    lines.append((at_ms, f"  +{at_ms - t0:>6.0f} ms  {who:9} {what}"))
def flush():
    # One poll's lines in time order (the scheduler stamps its events; the node's states are stamped when seen).
    for _, line in sorted(lines):
        print(line, flush=True)
    lines.clear()
while time.monotonic() < deadline:
    for e in get(f"{admin}/admin/events"):
        if e.get("job_id") != job_id or (e["kind"], e.get("detail")) in seen:
            continue
        seen.add((e["kind"], e.get("detail")))
        if e["kind"] == "job":
            say(e["at_ms"], "scheduler", "signed the job and sent it down the stream")
        elif e["kind"] == "ack":
            say(e["at_ms"], "node", f"acked it ({e['latency_ms']:.1f} ms after the scheduler wrote it)")
        elif e["kind"] == "rejection":
            flush()
            sys.exit(f"demo: the node rejected job {job_id}: {e.get('detail')}")
        elif e["kind"] == "receipt":
            if not e.get("valid"):
                flush()
                sys.exit(f"demo: the scheduler refused the receipt of {job_id}: {e.get('detail')}")
            say(e["at_ms"], "scheduler", f"got the receipt: signature recovers to the node; {e['detail']}, receipt_ack sent")
    try:
        job = get(f"{node}/v1/jobs/{job_id}")
    except urllib.error.HTTPError as e:
        job = {"state": f"unknown to the node yet ({e.code})"}
    if job["state"] != state:
        state = job["state"]
        say(time.time() * 1000, "node", f"job {state}")
    flush()
    if ("receipt", "stored") in seen and "receipt" in job:
        json.dump(job, open(out, "w"))
        sys.exit(0)
    time.sleep(0.05)
sys.exit(f"demo: job {job_id} did not reach the scheduler's receipt store within 100 s (the node says {state})")
EOF
}

# The receipt exactly as the scheduler stored it (proto field names; signature in base64), checked field for
# field against the node's signed receipt, whose EIP-712 signature `infra receipts verify` then checks.
show_stored_receipt() { # $1 node job JSON, $2 job id
  python3 - "$work/scheduler-receipts.jsonl" "$1" "$2" <<'EOF'
import base64, json, sys
stored = [json.loads(l) for l in open(sys.argv[1])]
mine = [r for r in stored if r["job_id"] == sys.argv[3]]
if len(mine) != 1:
    sys.exit(f"demo: the scheduler stored {len(mine)} receipts for {sys.argv[3]}, expected 1")
r, local = mine[0], json.load(open(sys.argv[2]))["receipt"]
print(f"receipt as the scheduler stored and acked it ({len(stored)} stored so far):")
for k in ["job_id", "status", "latency_ms", "model_ref", "image_digest", "output_hash", "job_hash", "node"]:
    print(f"  {k:18} {r.get(k, '')}")
sig = "0x" + base64.b64decode(r["signature"]).hex()
print(f"  {'signature':18} {sig[:26]}...")
diff = [k for k in ["job_id", "status", "output_hash", "job_hash", "node", "model_ref", "image_digest"] if str(r.get(k, "")) != str(local[k])]
if int(r.get("latency_ms", 0)) != local["latency_ms"]:
    diff.append("latency_ms")
if sig.lower() != local["signature"].lower():
    diff.append("signature")
if diff:
    sys.exit(f"demo: the scheduler's copy differs from the node's receipt in {', '.join(diff)}")
print("same fields and signature as the node's own receipt (GET /v1/jobs/{id})")
EOF
}

unacked() { curl -sf --max-time 2 "$node_url/v1/status" | python3 -c 'import json, sys; print(json.load(sys.stdin)["mesh"]["unacked_receipts"])'; }

step "job 1, from the scheduler: the stdio bundle (POST /admin/jobs; the scheduler signs it for this node)"
t0=$(date +%s%N)
mesh_job "$work/job1.json" demo-mesh-1 "$stdio_hash" "Hello, World!"
t1=$(date +%s%N)
show_job "$work/job1.json" "Hello, World!" brief
show_stored_receipt "$work/job1.json" demo-mesh-1
for _ in $(seq 1 25); do [ "$(unacked)" = 0 ] && break; sleep 0.2; done
[ "$(unacked)" = 0 ] || fail "the node still holds $(unacked) unacked receipt(s): the scheduler's receipt_ack did not arrive"
echo "the node logged the receipt_ack: 0 receipts left to redeliver"
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

step "job 2, direct: the rest bundle sent to the node's POST /v1/jobs (infra jobs submit --wait, no scheduler)"
submit "$work/job2.json" rest "$rest_hash" "the quick brown fox"
show_job "$work/job2.json" "the quick brown fox"
"$bin" receipts verify "$work/job2.json" --node "$node_id"

step "job 3, from the scheduler: the stdio bundle again, a cache hit (no download)"
t0=$(date +%s%N)
mesh_job "$work/job3.json" demo-mesh-3 "$stdio_hash" "a second input for the cached model"
t1=$(date +%s%N)
show_job "$work/job3.json" "a second input for the cached model" brief
"$bin" receipts verify "$work/job3.json" --node "$node_id"
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
