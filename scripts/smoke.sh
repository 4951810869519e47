#!/usr/bin/env bash
# Smoke-runs the built binaries the way an operator first meets them: `version`, `init --keygen`, `doctor`, then a
# job signed with the new key and sent by hostname to a fake node. The signed job proves hashing and signing work
# (RFC 6979 nonces use HMAC-SHA-256 from OpenSSL, the digest is keccak/EIP-712, the signature secp256k1): the
# fake node saves what it was sent and ethers (tests/vectors) recovers the signer, which must be the new key.
#
# Usage: scripts/smoke.sh [arm64] [static]   (default: both; run ./build.sh first)
#   arm64   dist/infra-linux-arm64 under qemu-user. Needs qemu-user-static, the arm64 cross libc
#           (/usr/aarch64-linux-gnu) and libssl3:arm64 unpacked under $ARM64_ROOT (default obj/arm64-root; .ci/run
#           does that), since the dynamic binary dlopens libssl.
#   static  dist/infra-linux-x64-static: checked to have no interpreter and no shared libraries, run on this host
#           with an empty environment, then inside a FROM scratch image (docker build from a generated
#           Dockerfile, no registry) where it resolves a hostname that only the container's /etc/hosts knows.
# Needs python3 (the fake node), node (ethers) and, for static, a running Docker.
set -euo pipefail
cd "$(dirname "$0")/.."

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(arm64 static)
for t in "${targets[@]}"; do
  case "$t" in arm64|static) ;; *) echo "smoke.sh: unknown target '$t' (use arm64 or static)" >&2; exit 2 ;; esac
done

readonly chain_id=31337
readonly model_hash=sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
work=$(mktemp -d /tmp/infra-smoke.XXXXXX)
fake_pid=
image=
cleanup() {
  [ -z "$fake_pid" ] || kill "$fake_pid" 2>/dev/null || true
  [ -z "$image" ] || docker rmi -f "$image" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "smoke: FAIL: $*" >&2; exit 1; }
step() { echo "smoke: $*"; }

# ethers comes from the vector generator's lock file; `make vectors-check` installs the same tree.
if [ ! -d tests/vectors/node_modules/ethers ]; then
  (cd tests/vectors && npm ci --no-audit --no-fund --silent)
fi

# The fake node: accepts POST /v1/jobs, keeps each body in $work/posted/<n>.json and answers 202 like a node would.
mkdir -p "$work/posted"
python3 - "$work" <<'PY' &
import http.server, json, os, sys
work = sys.argv[1]
class Node(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        ok = self.path == "/v1/jobs"
        if ok:
            n = len(os.listdir(os.path.join(work, "posted")))
            with open(os.path.join(work, "posted", f"{n}.json"), "wb") as f:
                f.write(body)
        answer = json.dumps({"job_id": json.loads(body).get("job_id"), "state": "queued"} if ok else {"error": "not found"}).encode()
        self.send_response(202 if ok else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Node)
with open(os.path.join(work, "port.tmp"), "w") as f:
    f.write(str(server.server_address[1]))
os.rename(os.path.join(work, "port.tmp"), os.path.join(work, "port"))
server.serve_forever()
PY
fake_pid=$!
for _ in $(seq 50); do [ -e "$work/port" ] && break; sleep 0.1; done
[ -e "$work/port" ] || fail "the fake node (python3) did not start"
port=$(cat "$work/port")

# Recovers the EIP-712 Job signer (CONTRACT.md §3) of a posted job with ethers; prints the address.
recover_signer() {
  (cd tests/vectors && node -e '
    const { ethers } = require("ethers");
    const job = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const schema = (s) => typeof s === "string" ? s : JSON.stringify(s);
    const types = { Job: [
      { name: "jobId", type: "string" }, { name: "modelHash", type: "string" }, { name: "containerUri", type: "string" },
      { name: "entrypoint", type: "string" }, { name: "inputSchema", type: "string" }, { name: "outputSchema", type: "string" },
      { name: "inputHash", type: "bytes32" }, { name: "deadline", type: "uint64" }, { name: "node", type: "address" } ] };
    const value = { jobId: job.job_id, modelHash: job.model_hash, containerUri: job.container_uri, entrypoint: job.entrypoint,
      inputSchema: schema(job.expected_schema.input), outputSchema: schema(job.expected_schema.output),
      inputHash: ethers.keccak256(ethers.toUtf8Bytes(job.input)), deadline: job.deadline, node: job.node };
    const domain = { name: "InfraMind", version: "1", chainId: BigInt(process.argv[2]) };
    console.log(ethers.verifyTypedData(domain, types, value, job.signature));
  ' "$1" "$2")
}

# smoke NAME HOME HOST EXPECTED_FAILS RUNNER...: the checks, with RUNNER the command line that runs the binary
# (HOME is where the runner's HOME points, as a path on this host; HOST the name the runner reaches the fake node
# by; EXPECTED_FAILS the doctor checks allowed to fail, as a regex).
smoke() {
  local name=$1 home=$2 host=$3 expected_fails=$4 out rc address posted signer
  shift 4
  step "$name: version"
  out=$("$@" version) || fail "$name: version exited $?"
  echo "  $out"
  [[ "$out" =~ ^infra\ [0-9]+\.[0-9]+\.[0-9]+.*\(linux-(x64|arm64)\)$ ]] || fail "$name: version printed '$out'"

  step "$name: init --keygen"
  address=$("$@" init --keygen) || fail "$name: init --keygen exited $?"
  echo "  $address"
  [[ "$address" =~ ^0x[0-9a-fA-F]{40}$ ]] || fail "$name: init --keygen printed '$address', not a node address"
  [ "$(stat -c %a "$home/.inframind/identity.key")" = 600 ] || fail "$name: the key is not at \$HOME/.inframind/identity.key with mode 0600"

  step "$name: doctor"
  # `~` paths expand through HOME; a 1 MiB cache budget keeps the disk check independent of this disk's size.
  printf 'node:\n  identity: ~/.inframind/identity.key\n  state_dir: ~/state\ncache:\n  max_bytes: 1Mi\n' > "$home/config.yaml"
  rc=0
  out=$("$@" doctor --config "$home_in/config.yaml") || rc=$?
  printf '  %s\n' "${out//$'\n'/$'\n'  }"
  [ "$rc" -le 1 ] || fail "$name: doctor exited $rc (0 or 1 expected)"
  grep -qE "^ok +identity +node $address " <<<"$out" || fail "$name: doctor did not load the new key"
  for check in config "state dir" "cache disk" gpu clock; do
    grep -qE "^ok +$check " <<<"$out" || fail "$name: doctor's '$check' check is not ok"
  done
  grep -qE '^(ok  |warn|FAIL)  engine ' <<<"$out" || fail "$name: doctor printed no engine line"
  if grep -E '^FAIL' <<<"$out" | grep -vqE "^FAIL  ($expected_fails) "; then
    fail "$name: doctor failed a check other than the expected ($expected_fails)"
  fi
  if [ "$rc" -eq 1 ]; then
    grep -qxE "$(grep -c '^FAIL' <<<"$out") check\(s\) failed( \([0-9]+ warning\(s\)\))?" <<<"$out" || fail "$name: doctor exited 1 without a summary that counts its FAIL lines"
  else
    grep -qxE 'all checks passed( \([0-9]+ warning\(s\)\))?' <<<"$out" || fail "$name: doctor exited 0 without 'all checks passed'"
  fi

  step "$name: a signed job to the fake node at http://$host:$port"
  local before job_id=smoke-$name
  before=$(find "$work/posted" -name '*.json' | wc -l)
  out=$("$@" jobs submit --key "$home_in/.inframind/identity.key" --node "$address" --chain-id "$chain_id" \
    --url "http://$host:$port" --job-id "$job_id" --model "$model_hash" --uri http://bundles.invalid/b.tar \
    --input "smoke $name" --input-schema '{"type":"string","maxLength":64}') || fail "$name: jobs submit exited $?"
  [ "$out" = "$job_id" ] || fail "$name: jobs submit printed '$out', not the job id"
  posted="$work/posted/$before.json"
  [ -e "$posted" ] || fail "$name: the fake node received no job"
  signer=$(recover_signer "$posted" "$chain_id") || fail "$name: ethers could not recover the job's signer"
  echo "  signature recovers to $signer"
  [ "${signer,,}" = "${address,,}" ] || fail "$name: the job's signature recovers to $signer, not to the node key $address"

  step "$name: a name that does not resolve"
  rc=0
  out=$("$@" jobs submit --key "$home_in/.inframind/identity.key" --node "$address" --chain-id "$chain_id" \
    --url "http://no-such-host.invalid:$port" --model "$model_hash" --uri http://bundles.invalid/b.tar --input x 2>&1) || rc=$?
  echo "  exit $rc: $out"
  [ "$rc" -eq 1 ] || fail "$name: an unresolvable node address exited $rc, not 1"
  grep -q 'no-such-host.invalid' <<<"$out" || fail "$name: the error does not name the host it could not resolve"
}

for t in "${targets[@]}"; do
  case "$t" in
  arm64)
    arm64_root=${ARM64_ROOT:-$PWD/obj/arm64-root}
    [ -e dist/infra-linux-arm64 ] || fail "dist/infra-linux-arm64 is missing; run ./build.sh arm64"
    [ -e "$arm64_root/usr/lib/aarch64-linux-gnu/libssl.so.3" ] ||
      fail "no libssl3:arm64 under $arm64_root; unpack it there (apt-get download libssl3:arm64; dpkg -x ...), as .ci/run does"
    home=$work/arm64-home home_in=$home
    mkdir -p "$home"
    smoke arm64 "$home" localhost 'engine' \
      qemu-aarch64-static -L /usr/aarch64-linux-gnu -E "LD_LIBRARY_PATH=$arm64_root/usr/lib/aarch64-linux-gnu" -E "HOME=$home" \
      dist/infra-linux-arm64
    ;;
  static)
    bin=dist/infra-linux-x64-static
    [ -e "$bin" ] || fail "$bin is missing; run ./build.sh static"
    step "static: no interpreter, no shared libraries"
    ! readelf -l "$bin" | grep -q 'program interpreter' || fail "$bin asks for a program interpreter"
    ! readelf -d "$bin" | grep -q '(NEEDED)' || fail "$bin needs shared libraries: $(readelf -d "$bin" | grep NEEDED)"

    home=$work/static-home home_in=$home
    mkdir -p "$home"
    # An empty environment: no PATH, no LD_LIBRARY_PATH, nothing but HOME.
    smoke static-host "$home" localhost 'engine' env -i "HOME=$home" "$bin"

    ctx=$work/image
    mkdir -p "$ctx"
    cp "$bin" "$ctx/infra"
    printf 'FROM scratch\nCOPY infra /infra\nENTRYPOINT ["/infra"]\n' > "$ctx/Dockerfile"
    image=inframind-smoke-static:$$
    docker build -q -t "$image" "$ctx" >/dev/null 2>"$work/docker-build.log" || fail "docker build of the scratch image: $(cat "$work/docker-build.log")"
    # The key and config live in a host folder mounted at /home/smoke; meshhost exists only in the container's
    # /etc/hosts (--add-host), so reaching the fake node proves the static getaddrinfo reads it.
    home=$work/scratch-home home_in=/home/smoke
    mkdir -p "$home"
    smoke scratch "$home" meshhost 'engine' \
      docker run --rm -i --network host --add-host meshhost:127.0.0.1 -v "$home:/home/smoke" -e HOME=/home/smoke "$image"
    ;;
  esac
done
step "all smoke runs passed (${targets[*]})"
