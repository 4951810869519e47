#!/usr/bin/env bash
# `make demo`: runs what the node can do so far on this machine, with a throwaway home folder.
# The full job demo (a signed job in, a model run in the sandbox, a verified receipt out) arrives with
# the jobs capability; until then this shows the binary, the identity and the host checks.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=dist/infra-linux-x64
home=$(mktemp -d /tmp/inframind-demo.XXXXXX)
trap 'rm -rf "$home"' EXIT
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "the binary: $(stat -c %s "$bin") bytes, no .NET runtime needed"
"$bin" version

step "infra init --keygen: a secp256k1 key, mode 0600, and the node ID it gives"
HOME=$home "$bin" init --keygen
ls -l "$home/.inframind/identity.key"

step "infra doctor: preflight checks, each failure with its fix"
HOME=$home "$bin" doctor || true

step "a key opened up to others is refused"
chmod 644 "$home/.inframind/identity.key"
HOME=$home "$bin" doctor | grep -A1 identity || true

echo
echo "The end-to-end job demo (engine, bundle, sandbox, signed receipt) is not built yet: it lands with the"
echo "jobs capability. 'make test' runs the test suite."
