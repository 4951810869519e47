#!/usr/bin/env bash
# Packages the sample embedder as two model bundles (CONTRACT.md §8), one per protocol:
#   dist/embedder-rest/    model.yaml (protocol rest, port 8080), container.tar, hooks/, README.md
#   dist/embedder-stdio/   model.yaml (protocol stdio), container.tar, README.md
# and, for each, the two delivery forms the node fetches:
#   dist/embedder-<p>.tar.gz  HTTP delivery; its sha256 is the job's model_hash ("sha256:<hex>")
#   dist/embedder-<p>.car     IPFS delivery: a CARv1 of the folder; its root CID is the model_hash
# Paths (relative to dist/), hashes and sizes go to dist/bundles.json, which is also printed.
#
# Steps: gcc -static the binary; docker build the two images (inframind-example/embedder:1-rest and
# :1-stdio, FROM scratch); docker save each into its bundle; tar.gz with fixed order, owners and times;
# CAR with make-car.mjs (npm ci here first if node_modules is missing).
# Needs: gcc with static glibc, docker (or podman when Docker is not answering), node + npm, python3.
# Idempotent: when no input changed since the last run (a hash of the sources, the compiler and the
# engine's image ids) it rebuilds nothing and prints the same bundles.json. Usage: package.sh [--force]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dist=$here/dist
build=$dist/build
readonly repo=inframind-example/embedder
readonly version=1.0.0
cflags=(-static -O2 -Wall -Wextra -Werror)

force=0
case "${1:-}" in
  "") ;;
  --force) force=1 ;;
  *) echo "usage: $0 [--force]" >&2; exit 2 ;;
esac

for tool in gcc node npm python3 sha256sum tar gzip; do
  command -v "$tool" >/dev/null || { echo "package.sh: $tool is not installed; it is needed to build the bundles" >&2; exit 1; }
done

ping() { curl -sf --max-time 2 --unix-socket "$1" http://engine/_ping >/dev/null 2>&1; }
if command -v docker >/dev/null && ping /var/run/docker.sock; then
  engine=docker
  # Without buildx the CLI cannot use BuildKit: ask for the classic builder explicitly.
  docker buildx version >/dev/null 2>&1 || export DOCKER_BUILDKIT=0
elif command -v podman >/dev/null; then
  engine=podman
  export CONTAINERS_CONF=${CONTAINERS_CONF:-/etc/inframind/podman-containers.conf}
else
  echo "package.sh: no container engine: start Docker (scripts/engines.sh start docker) or install podman" >&2
  exit 1
fi

# Everything that goes into the output. The image ids are part of it: an image removed or rebuilt
# elsewhere makes the next run package again.
inputs_hash() {
  {
    cat "$here/embedder.c" "$here/Dockerfile" "$here/package.sh" "$here/make-car.mjs" "$here/package-lock.json"
    echo "${cflags[*]}"
    gcc --version | head -n1
    for p in rest stdio; do "$engine" image inspect --format '{{.Id}}' "$repo:1-$p" 2>/dev/null || echo none; done
  } | sha256sum | cut -c1-32
}

if [ "$force" = 0 ] && [ -s "$dist/bundles.json" ] && [ "$(cat "$dist/.inputs" 2>/dev/null)" = "$(inputs_hash)" ]; then
  echo "package.sh: up to date ($dist)" >&2
  cat "$dist/bundles.json"
  exit 0
fi

# 1. The binary. A fixed mtime keeps the image layer the same when the bytes are.
mkdir -p "$build"
gcc "${cflags[@]}" -o "$build/embedder" "$here/embedder.c" -lm
touch -d @0 "$build/embedder"
cp "$here/Dockerfile" "$build/Dockerfile"
echo "package.sh: compiled $build/embedder ($(stat -c %s "$build/embedder") bytes)" >&2

# 2. The images.
for p in rest stdio; do
  log=$(mktemp)
  if ! "$engine" build --target "$p" --label "inframind.example=embedder" -t "$repo:1-$p" "$build" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "package.sh: $engine build --target $p failed" >&2
    exit 1
  fi
  rm -f "$log"
  echo "package.sh: built $repo:1-$p with $engine" >&2
done

# 3. The bundle folders.
write_manifest() { # $1 protocol
  local port_line=""
  [ "$1" = rest ] && port_line="port: 8080"
  cat <<EOF
# The sample model of inframind-node: a deterministic 256-dimensional text embedding
# (character trigrams, FNV-1a 32-bit, 256 signed buckets, L2-normalised). See README.md.
name: text-embedder-$1
version: $version
runtime: static
entrypoint: /embedder $([ "$1" = rest ] && echo "serve 8080" || echo "stdio")
protocol: $1
${port_line}
resources:
  cpu: 500m
  memory: 64Mi
input_schema: text
output_schema: embedding<float>
EOF
}

write_readme() { # $1 protocol
  cat <<EOF
# text-embedder-$1 $version

The inframind-node sample model (source: examples/embedder/ in the inframind-node repository).
It turns text into a deterministic 256-dimensional embedding: ASCII letters lowercased, other ASCII
punctuation and spaces collapsed to one space, padded with a space on each side; every 3-byte window
is hashed with FNV-1a 32-bit into bucket hash % 256 with sign +1 or -1 (bit 8 of the hash); the sum is
L2-normalised. Output: a JSON array of 256 numbers.

Image: \`$repo:1-$1\` (FROM scratch, one static binary \`/embedder\`, user 65534).
EOF
  if [ "$1" = rest ]; then
    cat <<'EOF'

Protocol rest, port 8080 on the container's loopback:

    GET  /health                        -> 200 "ok"
    POST /inference {"input": "text"}   -> 200 {"output": [256 numbers]}
                                           400 {"error": "..."} for a body that is not that

hooks/health.sh and hooks/warmup.sh describe the checks with curl. The image has no shell, so the node
does not run them inside the container; they work from anywhere that reaches the port.
EOF
  else
    cat <<'EOF'

Protocol stdio: the text on stdin (at most 1 MiB), the JSON array and a newline on stdout.
EOF
  fi
}

declare -A image_ids
for p in rest stdio; do
  folder=$dist/embedder-$p
  rm -rf "$folder" "$folder.tmp"
  mkdir -p "$folder.tmp"
  write_manifest "$p" >"$folder.tmp/model.yaml"
  write_readme "$p" >"$folder.tmp/README.md"
  if [ "$p" = rest ]; then
    mkdir -p "$folder.tmp/hooks"
    cat >"$folder.tmp/hooks/health.sh" <<'EOF'
#!/bin/sh
# Health of the rest embedder: GET /health answers 200 "ok".
# The image is FROM scratch (no shell, no curl), so this runs where the port is reachable, not inside.
exec curl -sf --max-time 2 "http://127.0.0.1:${PORT:-8080}/health"
EOF
    cat >"$folder.tmp/hooks/warmup.sh" <<'EOF'
#!/bin/sh
# Warm-up of the rest embedder: one small inference. The model keeps no state and needs no warm-up;
# this only proves the whole path answers. Runs where the port is reachable (the image has no shell).
exec curl -sf --max-time 5 -H 'Content-Type: application/json' -d '{"input": "warm up"}' \
  "http://127.0.0.1:${PORT:-8080}/inference" >/dev/null
EOF
    chmod 755 "$folder.tmp/hooks/"*.sh
  fi
  "$engine" save -o "$folder.tmp/container.tar" "$repo:1-$p"
  image_ids[$p]=$("$engine" image inspect --format '{{.Id}}' "$repo:1-$p")
  mv "$folder.tmp" "$folder"
done

# 4. HTTP delivery: a .tar.gz with the files at its top level, in name order, owner 0, mtime 0.
pack() { # $1 folder $2 out
  (cd "$1" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort \
    | tar --no-recursion --owner=0 --group=0 --numeric-owner --mtime=@0 --format=gnu -cf - -T -) | gzip -n -6 >"$2"
}

# 5. IPFS delivery.
if [ ! -d "$here/node_modules/@ipld/car" ]; then
  (cd "$here" && npm ci --no-audit --no-fund >&2)
fi

rows=()
for p in rest stdio; do
  pack "$dist/embedder-$p" "$dist/embedder-$p.tar.gz"
  sha=$(sha256sum "$dist/embedder-$p.tar.gz" | cut -d' ' -f1)
  car=$(node "$here/make-car.mjs" "$dist/embedder-$p" "$dist/embedder-$p.car")
  rows+=("$p" "${image_ids[$p]}" "$sha" "$car")
  echo "package.sh: embedder-$p: model_hash sha256:$sha (HTTP), $(echo "$car" | python3 -c 'import json,sys; print(json.load(sys.stdin)["cid"])') (IPFS)" >&2
done

python3 - "$dist" "$repo" "${rows[@]}" >"$dist/bundles.json.tmp" <<'EOF'
import json, os, sys
dist, repo, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
bundles = []
for i in range(0, len(rest), 4):
    protocol, image_id, sha, car = rest[i], rest[i + 1], rest[i + 2], json.loads(rest[i + 3])
    name = f"embedder-{protocol}"
    bundles.append({
        "name": name,
        "protocol": protocol,
        "folder": name,
        "image": f"{repo}:1-{protocol}",
        "image_id": image_id,
        "archive": f"{name}.tar.gz",
        "archive_bytes": os.path.getsize(os.path.join(dist, f"{name}.tar.gz")),
        "model_hash": f"sha256:{sha}",
        "car": f"{name}.car",
        "car_bytes": car["car_bytes"],
        "cid": car["cid"],
    })
print(json.dumps({"paths": "relative to this file's folder", "bundles": bundles}, indent=2))
EOF
mv "$dist/bundles.json.tmp" "$dist/bundles.json"
inputs_hash >"$dist/.inputs"
cat "$dist/bundles.json"
