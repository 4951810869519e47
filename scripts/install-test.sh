#!/usr/bin/env bash
# CI's test of install.sh (issue #8), the one entry point `.ci/run` and `make install-test` call:
#   1. shellcheck; the copies of config.yaml and the unit embedded in install.sh match the repo's files;
#      --help and bad usage answer as documented
#   2. `systemd-analyze verify` on systemd/inframind-node.service (a copy whose ExecStart is the built binary:
#      verify fails when ExecStart's binary is missing)
#   3. a clean Debian 12 image built here with mmdebstrap and `docker import` (no registry is reachable),
#      cached by a tag that names its recipe
#   4. in a container of it with no engine: --dry-run plans the Docker install and changes nothing
#   5. in a container with the host's Docker socket: install.sh installs, the node (started by hand: no
#      systemd in a container) answers /healthz, a second run changes nothing (checksums, inodes and
#      mtimes of every installed file compared) and says so, --uninstall removes what it added and keeps
#      the key, a reinstall gets the same node ID, an edited config survives, --purge removes the rest.
#   6. in a container of the same image booted with systemd as PID 1: install.sh enables and starts the
#      unit, the node answers /healthz, a second run changes nothing, --uninstall stops and removes it.
#      Skipped, loudly, where systemd cannot boot in a container (it needs CAP_SYS_ADMIN here).
# Usage: scripts/install-test.sh   (root, Docker running; INFRA_BIN overrides dist/infra-linux-x64)
# Needs: docker, mmdebstrap, shellcheck, systemd-analyze (`apt-get install mmdebstrap shellcheck systemd`).
set -euo pipefail
cd "$(dirname "$0")/.."

binary=${INFRA_BIN:-dist/infra-linux-x64}
# The recipe is in the tag: change the package list and the next run builds a fresh image.
readonly image_packages=libssl3,ca-certificates,curl,systemd,systemd-sysv,dbus
image=inframind-test/debian12-install:bookworm-minbase-$(printf '%s' "$image_packages" | sha256sum | cut -c1-12)
readonly image
readonly mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
readonly run_id=$$
containers=()
tmp=$(mktemp -d)
failures=0

cleanup() {
  if [ ${#containers[@]} -gt 0 ]; then docker rm -f "${containers[@]}" >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

step() { printf '\n--- %s\n' "$*"; }
pass() { printf 'ok    %s\n' "$*"; }
fail() { printf 'FAIL  %s\n' "$*" >&2; failures=$((failures + 1)); }
# check DESCRIPTION CMD...: one assertion; the test goes on after a failure so one run shows them all.
check() {
  local what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}
contains() { grep -qF -- "$2" <<<"$1"; }
equals() { [ "$1" = "$2" ]; }
contains_all() { local text=$1 s; shift; for s in "$@"; do contains "$text" "$s" || return 1; done; }
lacks() { ! grep -qF -- "$2" <<<"$1"; }

for tool in docker mmdebstrap shellcheck systemd-analyze; do
  command -v "$tool" >/dev/null || { echo "install-test: '$tool' is missing (apt-get install -y mmdebstrap shellcheck systemd docker.io)" >&2; exit 2; }
done
[ -x "$binary" ] || { echo "install-test: no binary at $binary; build it with ./build.sh x64 (or set INFRA_BIN)" >&2; exit 2; }
binary=$(realpath "$binary")

# ------------------------------------------------------------------------------------------------ 1
step "static checks"
check "shellcheck install.sh scripts/install-test.sh" shellcheck install.sh scripts/install-test.sh
# Run from a folder of its own, as `curl | bash` would: the embedded copies are what it prints then.
cp install.sh "$tmp/install.sh"
check "install.sh's embedded config.yaml is the repo's" cmp -s <(bash "$tmp/install.sh" --print-config) config.yaml
check "install.sh's embedded unit is systemd/inframind-node.service" cmp -s <(bash "$tmp/install.sh" --print-unit) systemd/inframind-node.service
check "--help exits 0 and names --uninstall" contains "$(./install.sh --help)" "--uninstall"
usage_rc() { local rc=0; ./install.sh "$@" >/dev/null 2>&1 || rc=$?; [ "$rc" = 2 ]; }
check "an unknown option exits 2" usage_rc --frobnicate
check "--binary without a value exits 2" usage_rc --binary
check "--purge without --uninstall exits 2" usage_rc --purge
check "--binary and --url together exit 2" usage_rc --binary "$binary" --url http://example.invalid/infra
check "a malformed --sha256 exits 2" usage_rc --dry-run --url http://example.invalid/infra --sha256 abc
check "a missing --binary file exits 2" usage_rc --dry-run --binary /nonexistent/infra

# ------------------------------------------------------------------------------------------------ 2
step "systemd-analyze verify"
sed "s#^ExecStart=/usr/local/bin/infra #ExecStart=$binary #" systemd/inframind-node.service >"$tmp/inframind-node.service"
check "the unit's copy runs the built binary" grep -q "^ExecStart=$binary run " "$tmp/inframind-node.service"
if out=$(systemd-analyze verify "$tmp/inframind-node.service" 2>&1) && [ -z "$out" ]; then
  pass "systemd-analyze verify inframind-node.service: no complaints"
else
  fail "systemd-analyze verify inframind-node.service:"$'\n'"$out"
fi

# ------------------------------------------------------------------------------------------------ 3
step "Debian 12 image $image"
if docker image inspect "$image" >/dev/null 2>&1; then
  pass "cached"
else
  echo "building it with mmdebstrap from $mirror (a few minutes, once)"
  mmdebstrap --quiet --variant=minbase --include="$image_packages" bookworm - "$mirror" | docker import - "$image" >/dev/null
  pass "built"
fi

start_container() { # NAME DOCKER-RUN-ARGS...: a container that sleeps; the test execs into it
  local name=$1
  shift
  docker rm -f "$name" >/dev/null 2>&1 || true
  containers+=("$name")
  # --network none: the install must work offline from a local binary, as CI's test shows.
  docker run -d --name "$name" --network none -v "$PWD:/src:ro" -v "$binary:/opt/infra:ro" "$@" "$image" sleep infinity >/dev/null
}
in_c() { local name=$1; shift; docker exec -i "$name" "$@"; }

# Everything the installer may add, with content hash, mode, inode and mtime: equal listings mean untouched.
listing() {
  # shellcheck disable=SC2016 # expanded in the container
  in_c "$1" bash -c '
    for f in /usr/local/bin/infra /etc/inframind/config.yaml /etc/systemd/system/inframind-node.service /root/.inframind/identity.key; do
      if [ -e "$f" ]; then printf "%s %s %s\n" "$(sha256sum <"$f" | cut -c1-64)" "$(stat -c "%a %i %y" "$f")" "$f"; else echo "absent $f"; fi
    done
    find /etc/inframind /root/.inframind /var/lib/inframind -maxdepth 0 2>/dev/null | sed "s/^/dir /"'
}

# ------------------------------------------------------------------------------------------------ 4
step "no engine: --dry-run plans the Docker install and changes nothing"
bare=inframind-install-bare-$run_id
start_container "$bare"
before=$(listing "$bare")
out=$(in_c "$bare" bash /src/install.sh --dry-run --binary /opt/infra 2>&1)
check "it says Docker will be installed, and how to skip that" contains "$out" "installing Docker (Debian's docker.io package); to skip this, rerun with --no-engine-install"
check "it lists the Docker install as an action" contains "$out" "[dry-run] would install Docker with apt-get"
planned=$(grep -cE '^install.sh: \[dry-run\] would (install the (binary|config|systemd unit)|create the identity key /root/.inframind/identity.key)' <<<"$out" || true)
check "it lists the binary, config, key and unit" equals "$planned" 4
check "it says no systemd runs here" contains "$out" "systemd is not running here"
check "nothing changed" test "$(listing "$bare")" = "$before"
# shellcheck disable=SC2016 # expanded in the container
check "apt-get did not run (no package lists fetched)" in_c "$bare" bash -c '! ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1'
out=$(in_c "$bare" bash /src/install.sh --dry-run --no-engine-install --binary /opt/infra 2>&1)
check "--no-engine-install: a warning" contains "$out" "no Docker or Podman found and --no-engine-install given"
check "--no-engine-install: no Docker install planned" lacks "$out" "would install Docker"
# A file that is not a runnable infra stops the script before the engine step or any other change.
rc=0
out=$(in_c "$bare" bash /src/install.sh --binary /src/config.yaml 2>&1) || rc=$?
check "a binary that does not run exits 1" equals "$rc" 1
check "a binary that does not run: refused with the reason" contains "$out" "/src/config.yaml does not run on this machine"
check "a binary that does not run: no Docker install started, nothing changed" equals "$(grep -c 'installing Docker' <<<"$out" || true)/$(listing "$bare")" "0/$before"
out=$(in_c "$bare" bash /src/install.sh --uninstall 2>&1)
check "--uninstall where nothing is installed: nothing to do" contains "$out" "nothing to do: inframind-node is not installed"
docker rm -f "$bare" >/dev/null

# ------------------------------------------------------------------------------------------------ 5
step "install, /healthz, a second run, uninstall, reinstall, purge"
node=inframind-install-node-$run_id
# The host's Docker socket is the node's engine: the agent connects to it at start (/healthz needs a running agent).
start_container "$node" -v /var/run/docker.sock:/var/run/docker.sock

# The release-URL path first, with a wrong checksum: refused, nothing installed.
wrong=$(printf '0%.0s' {1..64})
rc=0
out=$(in_c "$node" bash /src/install.sh --url file:///opt/infra --sha256 "$wrong" 2>&1) || rc=$?
check "a download with the wrong sha256 exits 1" equals "$rc" 1
check "a download with the wrong sha256 is refused with the reason" contains "$out" "not the expected $wrong"
check "and nothing was installed" in_c "$node" test ! -e /usr/local/bin/infra -a ! -e /etc/inframind/config.yaml

sha=$(sha256sum "$binary" | cut -c1-64)
out=$(in_c "$node" bash /src/install.sh --url file:///opt/infra --sha256 "$sha" 2>&1) || { fail "install.sh --url failed:"$'\n'"$out"; exit 1; }
printf '%s\n' "$out" | sed 's/^/    | /'
id1=$(grep -oE '^Node ID: 0x[0-9a-fA-F]{40}$' <<<"$out" | cut -d' ' -f3 || true)
check "it prints the new node ID" test -n "$id1"
check "it found the engine socket" contains "$out" "ok: container engine found (/var/run/docker.sock)"
check "it says systemd is not running and how to run the node by hand" contains "$out" "run the node by hand, as root:  /usr/local/bin/infra run --config /etc/inframind/config.yaml"
check "the binary is the given one" in_c "$node" cmp -s /usr/local/bin/infra /opt/infra
check "the config is the repo's config.yaml" in_c "$node" cmp -s /etc/inframind/config.yaml /src/config.yaml
check "the unit is the repo's" in_c "$node" cmp -s /etc/systemd/system/inframind-node.service /src/systemd/inframind-node.service
check "the key is 0600 in a 0700 folder" equals "$(in_c "$node" stat -c %a /root/.inframind/identity.key /root/.inframind | tr '\n' ' ')" "600 700 "
check "the key is the printed node ID's" contains "$(in_c "$node" /usr/local/bin/infra doctor --config /etc/inframind/config.yaml || true)" "node $id1 "

# systemd does not run in the container: start the node by hand, as install.sh told us to.
# shellcheck disable=SC2016 # expanded in the container
in_c "$node" bash -c 'mkdir -p /tmp/node; (/usr/local/bin/infra run --config /etc/inframind/config.yaml >/tmp/node/log 2>&1 & echo $! >/tmp/node/pid; wait $!; echo $? >/tmp/node/rc) >/dev/null 2>&1 &'
healthy=0
for _ in $(seq 1 60); do
  if in_c "$node" curl -sf --max-time 2 -o /dev/null http://127.0.0.1:9000/healthz; then healthy=1; break; fi
  in_c "$node" test ! -e /tmp/node/rc || break
  sleep 0.5
done
check "the installed node answers /healthz with 200" test "$healthy" = 1
check "/v1/status names the installed node" contains "$(in_c "$node" curl -sf http://127.0.0.1:9000/v1/status || true)" "\"node_id\":\"$id1\""
[ "$healthy" = 1 ] || in_c "$node" cat /tmp/node/log >&2 || true

# The state before the second run (the running node has added /var/lib/inframind by now).
installed=$(listing "$node")
out=$(in_c "$node" bash /src/install.sh --url file:///opt/infra --sha256 "$sha" 2>&1)
check "a second run: nothing to do" contains "$out" "nothing to do: inframind-node is installed and up to date"
check "a second run: the same node ID" contains "$out" "Node ID: $id1"
check "a second run: no file changed (hash, mode, inode, mtime)" test "$(listing "$node")" = "$installed"
# The same, from stdin as `curl | bash` runs it: the embedded config and unit are used and match.
out=$(in_c "$node" bash -s -- --binary /opt/infra <install.sh 2>&1)
check "a run from stdin (curl | bash): nothing to do" contains "$out" "nothing to do: inframind-node is installed and up to date"
check "a run from stdin: no file changed" test "$(listing "$node")" = "$installed"
out=$(in_c "$node" bash /src/install.sh --dry-run --binary /opt/infra 2>&1)
check "--dry-run on an installed node: 0 actions" contains "$out" "dry run: 0 action(s) listed, nothing changed"

# shellcheck disable=SC2016 # expanded in the container
in_c "$node" bash -c 'kill -TERM "$(cat /tmp/node/pid)"; for _ in $(seq 1 100); do [ -e /tmp/node/rc ] && break; sleep 0.1; done'
check "the node stops on SIGTERM with exit 0" equals "$(in_c "$node" cat /tmp/node/rc 2>/dev/null || true)" 0

key_sha=$(in_c "$node" sha256sum /root/.inframind/identity.key | cut -c1-64)
out=$(in_c "$node" bash /src/install.sh --uninstall 2>&1)
check "--uninstall says it kept the key" contains "$out" "kept the identity key /root/.inframind/identity.key"
check "--uninstall removed the binary, config, unit and /etc/inframind" in_c "$node" bash -c '! [ -e /usr/local/bin/infra ] && ! [ -e /etc/systemd/system/inframind-node.service ] && ! [ -e /etc/inframind ]'
check "--uninstall kept the key, byte for byte" equals "$(in_c "$node" sha256sum /root/.inframind/identity.key | cut -c1-64)" "$key_sha"
out=$(in_c "$node" bash /src/install.sh --uninstall 2>&1)
check "a second --uninstall: nothing to do" contains "$out" "nothing to do: inframind-node is not installed"

out=$(in_c "$node" bash /src/install.sh --binary /opt/infra 2>&1)
check "a reinstall keeps the node ID" contains "$out" "Node ID: $id1"
check "a reinstall does not create a key" lacks "$out" "create the identity key"

# An operator's edit survives a rerun and a plain uninstall.
in_c "$node" sed -i 's/^  region: unknown$/  region: europe-west/' /etc/inframind/config.yaml
edited=$(in_c "$node" sha256sum /etc/inframind/config.yaml)
out=$(in_c "$node" bash /src/install.sh --binary /opt/infra 2>&1)
check "a rerun says it keeps the edited config" contains "$out" "kept /etc/inframind/config.yaml as it is"
check "a rerun leaves the edited config as it was" equals "$(in_c "$node" sha256sum /etc/inframind/config.yaml)" "$edited"
out=$(in_c "$node" bash /src/install.sh --uninstall 2>&1)
check "--uninstall says it keeps the edited config" contains "$out" "kept /etc/inframind/config.yaml: it was edited"
check "--uninstall leaves the edited config as it was" equals "$(in_c "$node" sha256sum /etc/inframind/config.yaml)" "$edited"

out=$(in_c "$node" bash /src/install.sh --uninstall --purge 2>&1)
check "--uninstall --purge deletes the key, the config and the state" in_c "$node" bash -c '! [ -e /root/.inframind ] && ! [ -e /etc/inframind ] && ! [ -e /var/lib/inframind ] && ! [ -e /usr/local/bin/infra ]'

# ------------------------------------------------------------------------------------------------ 6
step "under systemd: enable, start, /healthz, a second run, uninstall"
sd=inframind-install-systemd-$run_id
start_container_cmd() { # like start_container, with the image's own command given last
  local name=$1
  shift
  docker rm -f "$name" >/dev/null 2>&1 || true
  containers+=("$name")
  docker run -d --name "$name" --network none -v "$PWD:/src:ro" -v "$binary:/opt/infra:ro" "$@" >/dev/null
}
# systemd as PID 1 needs the cgroup tree, tmpfs /run and room to make the unit's mount namespace.
start_container_cmd "$sd" --cap-add SYS_ADMIN --security-opt seccomp=unconfined --tmpfs /run --tmpfs /run/lock \
  -v /sys/fs/cgroup:/sys/fs/cgroup:ro -v /var/run/docker.sock:/var/run/docker.sock "$image" /sbin/init
booted=
for _ in $(seq 1 40); do
  booted=$(in_c "$sd" systemctl is-system-running 2>/dev/null || true)
  case "$booted" in running|degraded) break ;; esac
  sleep 0.5
done
case "$booted" in
  running|degraded)
    out=$(in_c "$sd" bash /src/install.sh --binary /opt/infra 2>&1) || fail "install.sh under systemd failed:"$'\n'"$out"
    check "under systemd: it enables and starts the unit" contains_all "$out" "enable inframind-node.service" "start inframind-node.service"
    check "under systemd: the unit is enabled and active" equals "$(in_c "$sd" systemctl is-enabled inframind-node.service)/$(in_c "$sd" systemctl is-active inframind-node.service)" "enabled/active"
    check "under systemd: the node answers /healthz" in_c "$sd" curl -sf --retry 10 --retry-connrefused --retry-delay 1 -o /dev/null http://127.0.0.1:9000/healthz
    pid=$(in_c "$sd" systemctl show -p MainPID --value inframind-node.service)
    installed=$(listing "$sd")
    out=$(in_c "$sd" bash /src/install.sh --binary /opt/infra 2>&1)
    check "under systemd: a second run: nothing to do, the node left running" contains_all "$out" "nothing to do" "ok: inframind-node.service is running"
    check "under systemd: a second run: not restarted, no file changed" equals "$(in_c "$sd" systemctl show -p MainPID --value inframind-node.service)/$(listing "$sd")" "$pid/$installed"
    out=$(in_c "$sd" bash /src/install.sh --uninstall 2>&1)
    check "under systemd: --uninstall stops and disables it" contains_all "$out" "stop inframind-node.service" "disable inframind-node.service"
    check "under systemd: the unit is gone, the key kept" in_c "$sd" bash -c '! systemctl is-active --quiet inframind-node.service && ! [ -e /etc/systemd/system/inframind-node.service ] && [ -s /root/.inframind/identity.key ]'
    ;;
  *)
    echo "SKIP  systemd did not boot in a container here (is-system-running: '${booted:-no answer}'): the enable/start path is untested on this host"
    ;;
esac

step "result"
if [ "$failures" -gt 0 ]; then
  echo "install-test: $failures check(s) failed" >&2
  exit 1
fi
echo "install-test: all checks passed (${SECONDS}s)"
