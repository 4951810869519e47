#!/usr/bin/env bash
# install.sh: installs the InfraMind node on this machine, the seed's boot steps made repeatable.
#   1. checks for Docker or Podman, installs Docker (Debian's docker.io) when neither is there
#   2. puts the `infra` binary at /usr/local/bin/infra (a local file, or a release URL)
#   3. creates the node identity with `infra init --keygen` (an existing key is never replaced)
#   4. installs /etc/inframind/config.yaml (an operator's edited config is never replaced)
#   5. installs systemd/inframind-node.service, enables and starts it where systemd runs
#   6. prints the node ID and the next steps
# Run it again at any time: it changes only what differs and says "nothing to do" when all is in place.
# Run `install.sh --help` for the options. Paths and names follow CONTRACT.md §1-2.
set -euo pipefail

readonly BIN_PATH=/usr/local/bin/infra
readonly CONFIG_DIR=/etc/inframind
readonly CONFIG_PATH=$CONFIG_DIR/config.yaml
readonly UNIT_NAME=inframind-node.service
readonly UNIT_PATH=/etc/systemd/system/$UNIT_NAME
readonly STATE_DIR=/var/lib/inframind
readonly RUNTIME_DIR=/run/inframind

usage() {
  cat <<'EOF'
Usage: install.sh [options]
       curl -sL <url>/install.sh | sudo bash -s -- --url <release-binary-url>

Installs the InfraMind node: container engine check, /usr/local/bin/infra, the identity key,
/etc/inframind/config.yaml and the systemd unit inframind-node.service. Safe to run again.

Where the binary comes from (first that applies):
  --binary PATH          a local infra binary          (or INFRAMIND_BINARY=PATH)
  --url URL              download it from a release URL (or INFRAMIND_RELEASE_URL=URL)
  --sha256 HEX           refuse the download unless its sha256 is HEX (or INFRAMIND_RELEASE_SHA256=HEX)
  (default)              dist/infra-linux-<arch> or infra-linux-<arch> beside this script

Options:
  --no-engine-install    do not install Docker when no engine is found (or INFRAMIND_NO_ENGINE_INSTALL=1);
                         the node then cannot start until Docker or Podman is installed
  --no-start             install, but do not enable or start the service
  --dry-run              print each action and change nothing (needs no root)
  --uninstall            stop and remove the service, the binary and the unedited config; keeps the
                         identity key, an edited config and the state in /var/lib/inframind
  --purge                with --uninstall: also delete the identity key, the config and /var/lib/inframind
                         (the node ID is gone for good: back the key up first)
  --print-config         print the config.yaml this script installs, then exit
  --print-unit           print the systemd unit this script installs, then exit
  -h, --help             show this help

Exit codes: 0 done (or nothing to do), 1 an action failed, 2 wrong usage or a missing prerequisite.
EOF
}

# ---------------------------------------------------------------------------------------------- output
# Every line the script prints starts with "install.sh:" so it stands out from the tools' own output.
say() { printf 'install.sh: %s\n' "$*"; }
warn() { printf 'install.sh: warning: %s\n' "$*" >&2; }
die() { printf 'install.sh: %s\n' "$1" >&2; exit "${2:-1}"; }

changes=0
# act DESCRIPTION CMD...: the one way this script changes the machine, so --dry-run covers every change.
act() {
  local what=$1
  shift
  changes=$((changes + 1))
  if [ "$dry_run" = 1 ]; then
    say "[dry-run] would $what"
    return 0
  fi
  say "$what"
  "$@"
}

# ---------------------------------------------------------------------------------------------- options
binary_src=${INFRAMIND_BINARY:-}
release_url=${INFRAMIND_RELEASE_URL:-}
release_sha256=${INFRAMIND_RELEASE_SHA256:-}
no_engine_install=${INFRAMIND_NO_ENGINE_INSTALL:-0}
no_start=0
dry_run=0
mode=install
purge=0

need_value() { if [ $# -lt 2 ] || [ -z "$2" ]; then die "$1 needs a value (see --help)" 2; fi; }
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) need_value "$@"; binary_src=$2; shift 2 ;;
    --binary=*) binary_src=${1#*=}; shift ;;
    --url) need_value "$@"; release_url=$2; shift 2 ;;
    --url=*) release_url=${1#*=}; shift ;;
    --sha256) need_value "$@"; release_sha256=$2; shift 2 ;;
    --sha256=*) release_sha256=${1#*=}; shift ;;
    --no-engine-install) no_engine_install=1; shift ;;
    --no-start) no_start=1; shift ;;
    --dry-run) dry_run=1; shift ;;
    --uninstall) mode=uninstall; shift ;;
    --purge) purge=1; shift ;;
    --print-config) mode=print-config; shift ;;
    --print-unit) mode=print-unit; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option '$1'; see install.sh --help" 2 ;;
  esac
done
[ "$purge" = 0 ] || [ "$mode" = uninstall ] || die "--purge only goes with --uninstall" 2
[ -z "$binary_src" ] || [ -z "$release_url" ] || die "give either --binary or --url, not both" 2
[ -z "$release_sha256" ] || [[ "$release_sha256" =~ ^[0-9a-fA-F]{64}$ ]] || die "--sha256 needs 64 hex characters, got '$release_sha256'" 2
case "$no_engine_install" in 0|1) ;; *) die "INFRAMIND_NO_ENGINE_INSTALL must be 0 or 1, got '$no_engine_install'" 2 ;; esac

# The script's folder, when it is a file (not `curl | bash`): a checkout or an unpacked release.
script_dir=
if [ -n "${BASH_SOURCE[0]:-}" ] && [ -f "${BASH_SOURCE[0]}" ]; then
  script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fi

# ------------------------------------------------------------------------------ shipped config and unit
# Copies of the repo's config.yaml and systemd/inframind-node.service, so `curl | bash` needs no other file.
# scripts/install-test.sh fails when they drift from the repo's files. Beside a checkout the files win.
embedded_config() {
  cat <<'INFRAMIND_CONFIG_EOF'
# InfraMind node configuration (the documented defaults).
#
# `infra` reads --config PATH, else /etc/inframind/config.yaml, else ~/.inframind/config.yaml, else the
# built-in defaults, which are exactly the values below. Any single key can be overridden with an
# environment variable INFRAMIND_<SECTION>_<KEY>, e.g. INFRAMIND_LISTENER_PORT=9100; lists are
# comma-separated there: INFRAMIND_MESH_TRUSTED_SCHEDULERS=0xabc...,0xdef...
# An unknown key or a value of the wrong type stops the node with exit code 2, naming the key and the
# line. A key left empty ("port:") keeps its default. Paths may start with ~/.

node:
  # The node's secp256k1 key (64 hex characters, mode 0600). `infra init --keygen` creates it.
  identity: ~/.inframind/identity.key
  # Region hint sent to the mesh, e.g. europe-west; schedulers filter nodes by it.
  region: unknown
  # Receipts log and job state. Default: /var/lib/inframind for root, ~/.inframind otherwise.
  # state_dir: /var/lib/inframind

listener:
  # Public REST listener (health, status, metrics, job submission). Use 127.0.0.1 to keep it local.
  bind: 0.0.0.0
  port: 9000

control:
  # Local control-plane socket used by `infra status`. Default: /run/inframind/control.sock for root,
  # ~/.inframind/control.sock otherwise.
  # socket: /run/inframind/control.sock

mesh:
  # Scheduler gRPC URLs, tried in order. Empty: the node runs standalone (REST submissions only).
  endpoints: []
  # Addresses (0x..., EIP-55 or lowercase) whose job signatures the node accepts.
  trusted_schedulers: []
  # EIP-712 domain chain id used for every signature. 31337 is the local development chain;
  # set the id your mesh uses in production.
  chain_id: 31337
  # A link connected but given no job for this many seconds is flagged in status and /metrics.
  idle_alert_seconds: 600
  # How long one scheduler gets to accept the connection and send its welcome before the next is tried.
  connect_timeout_seconds: 10

runtime:
  # Container engine: auto (Docker's socket, then Podman's), docker or podman.
  engine: auto
  # Engine API socket. Empty: detected (/var/run/docker.sock, /run/podman/podman.sock,
  # $XDG_RUNTIME_DIR/podman/podman.sock for non-root users).
  socket:

cache:
  # Model bundle cache. Default: <node.state_dir>/cache.
  # dir: /var/lib/inframind/cache
  # Cache budget: plain bytes, Ki/Mi/Gi/Ti (binary) or K/M/G/T (decimal).
  max_bytes: 10Gi

registry:
  # IPFS trustless gateways (CAR responses, verified block by block), tried in order.
  ipfs_gateways:
    - https://trustless-gateway.link
    - https://ipfs.io

log:
  # What `infra run` writes to stderr (the journal under systemd): debug, info, warn or error and above.
  # info: start-up, each job's outcome and time, download progress; debug adds every state a job passes through.
  level: info
INFRAMIND_CONFIG_EOF
}

embedded_unit() {
  cat <<'INFRAMIND_UNIT_EOF'
# systemd unit for the InfraMind node agent. Installed by install.sh (which also creates the key and the
# config); by hand: copy dist/infra-linux-<arch> to /usr/local/bin/infra, this file to /etc/systemd/system/,
# then `systemctl enable --now inframind-node`.
# The agent speaks sd_notify itself (no libsystemd): READY=1 once the listener and control socket are up,
# STATUS= lines, WATCHDOG=1 from its serving loop, STOPPING=1 when it drains.
[Unit]
Description=InfraMind compute node
Documentation=https://github.com/inframind/inframind-node
Wants=network-online.target
After=network-online.target docker.service podman.socket

[Service]
Type=notify
NotifyAccess=main
ExecStart=/usr/local/bin/infra run --config /etc/inframind/config.yaml
Restart=on-failure
RestartSec=5s
# Exit code 2 is a configuration error: restarting cannot fix it, so systemd stops and shows the error.
RestartPreventExitStatus=2
TimeoutStartSec=120s
# Running jobs get this long to finish on stop (the agent drains, then cancels).
TimeoutStopSec=45s
WatchdogSec=60s
StateDirectory=inframind
StateDirectoryMode=0700
RuntimeDirectory=inframind
RuntimeDirectoryMode=0750
# Hardening that still lets the agent reach the engine socket and read cgroups.
# "-": a host has Docker or Podman, rarely both; a missing path must not fail the start (226/NAMESPACE).
NoNewPrivileges=true
PrivateTmp=true
ProtectSystem=strict
ProtectHome=read-only
ReadWritePaths=/var/lib/inframind /run/inframind -/var/run/docker.sock -/run/podman
ProtectKernelTunables=true
ProtectKernelModules=true
ProtectControlGroups=false
RestrictSUIDSGID=true
LockPersonality=true
# CAP_SYS_ADMIN and CAP_SYS_PTRACE: setns into a rest model's network namespace (its loopback).
CapabilityBoundingSet=CAP_SYS_ADMIN CAP_SYS_PTRACE CAP_DAC_READ_SEARCH CAP_NET_BIND_SERVICE CAP_KILL

[Install]
WantedBy=multi-user.target
INFRAMIND_UNIT_EOF
}

shipped_config() {
  if [ -n "$script_dir" ] && [ -f "$script_dir/config.yaml" ]; then cat "$script_dir/config.yaml"; else embedded_config; fi
}

shipped_unit() {
  if [ -n "$script_dir" ] && [ -f "$script_dir/systemd/$UNIT_NAME" ]; then cat "$script_dir/systemd/$UNIT_NAME"; else embedded_unit; fi
}

case "$mode" in
  print-config) shipped_config; exit 0 ;;
  print-unit) shipped_unit; exit 0 ;;
esac

# ---------------------------------------------------------------------------------------------- helpers
[ "$dry_run" = 1 ] || [ "$(id -u)" = 0 ] || die "run it as root (sudo), or look first with --dry-run" 2
for tool in sha256sum install mktemp cmp awk; do
  command -v "$tool" >/dev/null || die "'$tool' is missing; install coreutils, diffutils and gawk or mawk" 2
done

work=$(mktemp -d)
# shellcheck disable=SC2064 # expand now: the folder name is fixed
trap "rm -rf '$work'" EXIT

systemd_running() { [ -d /run/systemd/system ]; }

sha_of() { sha256sum "$1" | awk '{print $1}'; }

# same_file A B: both exist with the same bytes.
same_file() { [ -f "$1" ] && [ -f "$2" ] && cmp -s "$1" "$2"; }

# The service runs as root, so `~` in node.identity is root's home. $HOME is not used: under sudo it may
# still be the calling user's, and the key would land where the service never looks.
root_home() {
  local home
  home=$(awk -F: '$3 == 0 { print $6; exit }' /etc/passwd 2>/dev/null || true)
  printf '%s\n' "${home:-/root}"
}

# node.identity from a config file (the `identity:` key under `node:`), `~` expanded as the agent does;
# INFRAMIND_NODE_IDENTITY overrides it, as it does for the agent.
identity_path() {
  local config=$1 value=
  if [ -n "${INFRAMIND_NODE_IDENTITY:-}" ]; then
    value=$INFRAMIND_NODE_IDENTITY
  elif [ -f "$config" ]; then
    value=$(awk '
      /^[^[:space:]#]/ { in_node = ($0 ~ /^node:[[:space:]]*(#.*)?$/) }
      in_node && /^[[:space:]]+identity:/ {
        sub(/^[[:space:]]+identity:[[:space:]]*/, ""); sub(/[[:space:]]+#.*$/, ""); sub(/[[:space:]]+$/, "")
        gsub(/^["\047]|["\047]$/, ""); print; exit
      }' "$config")
  fi
  # A literal tilde, expanded here by hand (the agent's rule: "~" or a leading "~/").
  local tilde='~'
  [ -n "$value" ] || value="$tilde/.inframind/identity.key"
  if [ "$value" = "$tilde" ]; then
    value=$(root_home)
  elif [ "${value#"$tilde/"}" != "$value" ]; then
    value="$(root_home)/${value#"$tilde/"}"
  fi
  printf '%s\n' "$value"
}

# node_id BIN CONFIG: the address `infra doctor` reports for the key (its identity line), or nothing.
node_id() {
  "$1" doctor --config "$2" 2>/dev/null | grep -oE 'node 0x[0-9a-fA-F]{40}' | head -n 1 | cut -d' ' -f2 || true
}

arch_suffix() {
  case "$(uname -m)" in
    x86_64|amd64) echo x64 ;;
    aarch64|arm64) echo arm64 ;;
    *) die "no infra build for $(uname -m); the node ships for x86_64 and aarch64" 2 ;;
  esac
}

# ------------------------------------------------------------------------------------------- uninstall
do_uninstall() {
  local key
  key=$(identity_path "$CONFIG_PATH")

  if systemd_running && command -v systemctl >/dev/null; then
    if systemctl is-active --quiet "$UNIT_NAME" 2>/dev/null; then act "stop $UNIT_NAME" systemctl stop "$UNIT_NAME"; fi
    if systemctl is-enabled --quiet "$UNIT_NAME" 2>/dev/null; then act "disable $UNIT_NAME" systemctl disable --quiet "$UNIT_NAME"; fi
  fi
  if [ -e "$UNIT_PATH" ]; then
    act "remove $UNIT_PATH" rm -f "$UNIT_PATH"
    if systemd_running && command -v systemctl >/dev/null; then act "reload systemd" systemctl daemon-reload; fi
  fi
  if [ -e "$BIN_PATH" ]; then act "remove $BIN_PATH" rm -f "$BIN_PATH"; fi

  if [ -e "$CONFIG_PATH" ]; then
    shipped_config >"$work/config.yaml"
    if [ "$purge" = 1 ] || same_file "$CONFIG_PATH" "$work/config.yaml"; then
      act "remove $CONFIG_PATH" rm -f "$CONFIG_PATH"
    else
      say "kept $CONFIG_PATH: it was edited (remove it yourself, or use --uninstall --purge)"
    fi
  fi
  if [ -d "$CONFIG_DIR" ] && [ -z "$(ls -A "$CONFIG_DIR")" ]; then act "remove the empty $CONFIG_DIR" rmdir "$CONFIG_DIR"; fi
  if [ -d "$RUNTIME_DIR" ]; then act "remove $RUNTIME_DIR" rm -rf "$RUNTIME_DIR"; fi

  if [ "$purge" = 1 ]; then
    if [ -e "$key" ]; then act "delete the identity key $key (the node ID is gone for good)" rm -f "$key"; fi
    if [ -d "$(dirname "$key")" ] && [ -z "$(ls -A "$(dirname "$key")")" ]; then act "remove the empty $(dirname "$key")" rmdir "$(dirname "$key")"; fi
    if [ -d "$STATE_DIR" ]; then act "delete $STATE_DIR (receipts log, job state, model cache)" rm -rf "$STATE_DIR"; fi
  else
    if [ -e "$key" ]; then say "kept the identity key $key (delete it with --uninstall --purge)"; fi
    if [ -d "$STATE_DIR" ]; then say "kept $STATE_DIR (receipts log and model cache; delete it with --uninstall --purge)"; fi
  fi
  say "Docker or Podman, if this script installed one, stays: remove it with your package manager if no longer needed"

  if [ "$changes" = 0 ]; then
    say "nothing to do: inframind-node is not installed"
  elif [ "$dry_run" = 1 ]; then
    say "dry run: $changes action(s) listed, nothing changed"
  else
    say "uninstalled ($changes action(s))"
  fi
}

# --------------------------------------------------------------------------------------------- install
# Prints what was found: the engine's command, or its API socket (all the node needs is the socket).
find_engine() {
  local found
  for found in docker podman; do
    if command -v "$found" >/dev/null; then command -v "$found"; return 0; fi
  done
  for found in /var/run/docker.sock /run/podman/podman.sock; do
    if [ -S "$found" ]; then echo "$found"; return 0; fi
  done
  return 1
}

install_docker() {
  command -v apt-get >/dev/null ||
    die "no package manager this script knows (apt-get); install Docker or Podman yourself, then run install.sh again (or add --no-engine-install)" 2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io
  if systemd_running && command -v systemctl >/dev/null; then
    systemctl enable --now docker.service
  else
    warn "Docker is installed but not started (systemd is not running): start dockerd before the node"
  fi
}

ensure_engine() {
  local engine
  if engine=$(find_engine); then
    say "ok: container engine found ($engine)"
  elif [ "$no_engine_install" = 1 ]; then
    warn "no Docker or Podman found and --no-engine-install given: the node cannot start until one is installed (apt-get install docker.io, or podman)"
  else
    say "no Docker or Podman found: installing Docker (Debian's docker.io package); to skip this, rerun with --no-engine-install"
    act "install Docker with apt-get (docker.io)" install_docker
  fi
}

download() {
  local url=$1 out=$2
  if command -v curl >/dev/null; then
    curl -fsSL --retry 3 -o "$out" "$url"
  elif command -v wget >/dev/null; then
    wget -q -O "$out" "$url"
  else
    die "neither curl nor wget is installed; install one, or download the binary and pass --binary PATH" 2
  fi
}

# Prints the path of the binary to install (fetched into $work when it comes from a URL).
resolve_binary() {
  local arch candidate
  if [ -n "$release_url" ]; then
    if [ "$dry_run" = 1 ]; then
      say "[dry-run] would download $release_url" >&2
      echo "$release_url"
      return 0
    fi
    say "downloading $release_url" >&2
    download "$release_url" "$work/infra" || die "could not download $release_url; check the URL, or pass --binary PATH"
    if [ -n "$release_sha256" ]; then
      local got
      got=$(sha_of "$work/infra")
      [ "$got" = "${release_sha256,,}" ] || die "the download's sha256 is $got, not the expected $release_sha256; not installing it"
    fi
    chmod 0755 "$work/infra"
    echo "$work/infra"
    return 0
  fi
  if [ -n "$binary_src" ]; then
    [ -f "$binary_src" ] || die "no binary at $binary_src; build it with ./build.sh, or give --url" 2
    echo "$binary_src"
    return 0
  fi
  arch=$(arch_suffix)
  for candidate in "$script_dir/dist/infra-linux-$arch" "$script_dir/infra-linux-$arch"; do
    if [ -n "$script_dir" ] && [ -f "$candidate" ]; then echo "$candidate"; return 0; fi
  done
  die "no infra binary given: pass --binary PATH or --url URL (or run ./build.sh beside this script for dist/infra-linux-$arch)" 2
}

# Type=notify: `systemctl start` returns once the agent says READY=1, or fails when it exits first.
start_unit() { # start|restart
  systemctl "$1" "$UNIT_NAME" ||
    die "$UNIT_NAME did not start; see why with: journalctl -u $UNIT_NAME -n 50 --no-pager, and infra doctor --config $CONFIG_PATH"
}

install_file() { # SRC DEST MODE
  install -D -m "$3" "$1" "$2"
}

do_install() {
  local src key id="" created_key=0 restart_needed=0 config_state

  # -- the binary, checked first so that a bad one stops the script before it changes anything
  src=$(resolve_binary)
  if [ "$dry_run" = 0 ] || [ -f "$src" ]; then
    # A binary that cannot print its version is the wrong architecture or a broken download.
    "$src" version >/dev/null 2>&1 || die "$src does not run on this machine (wrong architecture or a damaged file?); nothing was installed"
  fi

  ensure_engine

  if same_file "$src" "$BIN_PATH"; then
    say "ok: $BIN_PATH is up to date"
  else
    act "install the binary at $BIN_PATH" install_file "$src" "$BIN_PATH" 0755
    restart_needed=1
  fi

  # -- the config: installed when absent, updated never (an operator's edits are the operator's)
  shipped_config >"$work/config.yaml"
  if [ ! -e "$CONFIG_PATH" ]; then
    act "install the config at $CONFIG_PATH" install_file "$work/config.yaml" "$CONFIG_PATH" 0644
    config_state=new
  elif same_file "$CONFIG_PATH" "$work/config.yaml"; then
    say "ok: $CONFIG_PATH is in place"
    config_state=same
  else
    say "ok: kept $CONFIG_PATH as it is (it differs from the shipped one; compare with: install.sh --print-config | diff - $CONFIG_PATH)"
    config_state=edited
  fi
  [ "$config_state" != new ] || restart_needed=1

  # -- the identity: created once, never replaced (`infra init` refuses without --force as well)
  key=$(identity_path "$CONFIG_PATH")
  [ -e "$CONFIG_PATH" ] || key=$(identity_path "$work/config.yaml")
  if [ -e "$key" ]; then
    say "ok: identity key $key exists (kept)"
  elif [ "$dry_run" = 1 ]; then
    act "create the identity key $key (infra init --keygen)" true
  else
    say "create the identity key $key (infra init --keygen)"
    changes=$((changes + 1))
    id=$("$BIN_PATH" init --keygen --identity "$key") || die "infra init --keygen failed (its message is above)"
    created_key=1
    restart_needed=1
  fi

  # -- the unit
  shipped_unit >"$work/$UNIT_NAME"
  local unit_changed=0
  if same_file "$work/$UNIT_NAME" "$UNIT_PATH"; then
    say "ok: $UNIT_PATH is up to date"
  else
    act "install the systemd unit at $UNIT_PATH" install_file "$work/$UNIT_NAME" "$UNIT_PATH" 0644
    unit_changed=1
  fi

  # -- start it
  local run_by_hand="$BIN_PATH run --config $CONFIG_PATH"
  if [ "$no_start" = 1 ]; then
    say "not enabling or starting $UNIT_NAME (--no-start); start it with: systemctl enable --now ${UNIT_NAME%.service}"
  elif ! systemd_running || ! command -v systemctl >/dev/null; then
    say "systemd is not running here (no /run/systemd/system): nothing was started"
    say "run the node by hand, as root:  $run_by_hand"
  else
    if [ "$unit_changed" = 1 ]; then act "reload systemd" systemctl daemon-reload; fi
    if systemctl is-enabled --quiet "$UNIT_NAME" 2>/dev/null; then
      say "ok: $UNIT_NAME is enabled"
    else
      act "enable $UNIT_NAME" systemctl enable --quiet "$UNIT_NAME"
    fi
    if systemctl is-active --quiet "$UNIT_NAME" 2>/dev/null; then
      if [ "$restart_needed" = 1 ] || [ "$unit_changed" = 1 ]; then
        act "restart $UNIT_NAME (its binary, config, key or unit changed)" start_unit restart
      else
        say "ok: $UNIT_NAME is running"
      fi
    else
      act "start $UNIT_NAME" start_unit start
    fi
  fi

  # -- report
  if [ "$dry_run" = 1 ]; then
    say "dry run: $changes action(s) listed, nothing changed"
    return 0
  fi
  [ -n "$id" ] || id=$(node_id "$BIN_PATH" "$CONFIG_PATH")
  if [ "$changes" = 0 ]; then
    say "nothing to do: inframind-node is installed and up to date"
  else
    say "installed ($changes action(s))"
  fi
  echo
  echo "Node ID: ${id:-unknown (run: infra doctor --config $CONFIG_PATH)}"
  if [ "$created_key" = 1 ]; then echo "Back up $key now: it is the node's identity, and it cannot be recovered."; fi
  cat <<EOF

Next steps:
  infra doctor                      preflight checks, each failure with its fix
  infra status                      the running node (ID, jobs, latency, uptime, stake, region)
  curl -s localhost:9000/healthz    the public port answers
  Edit $CONFIG_PATH to join a mesh (mesh.endpoints, mesh.trusted_schedulers, node.region),
  then restart the node. Remove it with: install.sh --uninstall (keeps the key; --purge deletes it).
EOF
}

case "$mode" in
  install) do_install ;;
  uninstall) do_uninstall ;;
esac
