#!/usr/bin/env bash
# Publishes `infra` with native AOT for linux-x64 and linux-arm64 into dist/, and fails when a binary is
# over the size budget. Usage: ./build.sh [x64|arm64 ...]   (default: both)
# The arm64 build cross-compiles on an x64 host; it needs clang, lld/binutils and the arm64 sysroot:
#   apt-get install -y clang binutils-aarch64-linux-gnu libc6-dev-arm64-cross libgcc-12-dev-arm64-cross
set -euo pipefail
cd "$(dirname "$0")"

# The design target is 12 MB and the gate: a binary above it fails the build. Size.Substitutions.xml (src/Infra)
# cut Regex's NonBacktracking engine and protobuf's text formatter; x64 is about 10.98 MB with them.
readonly target_bytes=$((12 * 1000 * 1000))   # 12 MB
readonly budget_bytes=$target_bytes
readonly project=src/Infra/Infra.csproj
arches=("$@")
[ ${#arches[@]} -gt 0 ] || arches=(x64 arm64)

commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
epoch=$(git log -1 --format=%ct 2>/dev/null || echo 0)
mkdir -p dist

publish() {
  local arch=$1 rid=linux-$1 extra=()
  if [ "$arch" = arm64 ] && [ "$(uname -m)" != aarch64 ]; then
    # Cross-compile: clang targets aarch64 against Debian's cross sysroot; objcopy strips the result.
    extra+=(-p:CppCompilerAndLinker=clang -p:ObjCopyName=aarch64-linux-gnu-objcopy)
  fi
  echo "==> publishing infra for $rid"
  dotnet publish "$project" -c Release -r "$rid" --nologo -v quiet \
    -p:SourceRevisionId="$commit" -p:SourceEpoch="$epoch" \
    -o "obj/publish/$rid" "${extra[@]}"
  cp "obj/publish/$rid/infra" "dist/infra-$rid"
}

for arch in "${arches[@]}"; do
  case "$arch" in
    x64|arm64) publish "$arch" ;;
    *) echo "build.sh: unknown architecture '$arch' (use x64 or arm64)" >&2; exit 2 ;;
  esac
done

status=0
for arch in "${arches[@]}"; do
  file=dist/infra-linux-$arch
  size=$(stat -c %s "$file")
  printf '%-22s %9d bytes (%.2f MB, budget %.0f MB)\n' "$file" "$size" "$(awk "BEGIN{print $size/1e6}")" "$(awk "BEGIN{print $budget_bytes/1e6}")"
  if [ "$size" -gt "$target_bytes" ] && [ "$size" -le "$budget_bytes" ]; then
    echo "build.sh: warning: $file is over the 12 MB design target (the gate is ${budget_bytes} bytes)" >&2
  fi
  if [ "$size" -gt "$budget_bytes" ]; then
    echo "build.sh: $file is over the ${budget_bytes}-byte budget" >&2
    status=1
  fi
done
exit $status
