#!/usr/bin/env bash
# CI check: the .proto files compile unchanged with a second, independent protobuf stack (Python's
# grpc_tools.protoc, Debian's python3-grpc-tools), so nothing in them leans on Grpc.Tools quirks.
# Exits non-zero, naming the file, when either fails to compile.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-/usr/bin/python3}
if ! "$python" -c 'import grpc_tools.protoc' 2>/dev/null; then
    echo "check-protos: $python has no grpc_tools; install it with: apt-get install -y python3-grpc-tools" >&2
    exit 2
fi

out=$(mktemp -d /tmp/check-protos.XXXXXX)
trap 'rm -rf "$out"' EXIT

status=0
for proto in src/Infra/Protos/mesh.proto src/Infra/Protos/control.proto; do
    if "$python" -m grpc_tools.protoc -I src/Infra/Protos --python_out="$out" --grpc_python_out="$out" "$proto"; then
        echo "ok: $proto"
    else
        echo "check-protos: $proto does not compile with grpc_tools.protoc (see above)" >&2
        status=1
    fi
done

# Import what was generated: a compiled file that Python cannot load would still be a broken contract.
if [ "$status" -eq 0 ]; then
    (cd "$out" && "$python" -c 'import mesh_pb2, mesh_pb2_grpc, control_pb2, control_pb2_grpc') ||
        { echo "check-protos: the generated Python modules do not import" >&2; status=1; }
fi
exit "$status"
