#!/usr/bin/env bash
# Starts the container engines the node talks to, when they are not already answering:
#   Docker  on /var/run/docker.sock
#   Podman  on /run/podman/podman.sock (its compatible Engine API)
# Usage: scripts/engines.sh [start|status] [docker|podman ...]   (default: start both)
# Logs go to /tmp/inframind-dockerd.log and /tmp/inframind-podman.log. Needs root (as CI and `make demo` run).
set -euo pipefail

readonly docker_socket=/var/run/docker.sock
readonly podman_socket=/run/podman/podman.sock
readonly podman_conf=/etc/inframind/podman-containers.conf

action=${1:-start}
shift || true
engines=("$@")
[ ${#engines[@]} -gt 0 ] || engines=(docker podman)

ping() { curl -sf --max-time 2 --unix-socket "$1" http://engine/_ping >/dev/null 2>&1; }

wait_for() {
  local name=$1 socket=$2 log=$3
  for _ in $(seq 1 60); do
    if ping "$socket"; then
      echo "$name: answering on $socket"
      return 0
    fi
    sleep 0.5
  done
  echo "$name: did not answer on $socket within 30 s; last lines of $log:" >&2
  tail -n 20 "$log" >&2 || true
  return 1
}

start_docker() {
  if ping "$docker_socket"; then echo "docker: already answering on $docker_socket"; return 0; fi
  command -v dockerd >/dev/null || { echo "docker: dockerd is not installed (apt-get install -y docker.io)" >&2; return 1; }
  (setsid dockerd --host "unix://$docker_socket" >/tmp/inframind-dockerd.log 2>&1 &)
  wait_for docker "$docker_socket" /tmp/inframind-dockerd.log
}

start_podman() {
  if ping "$podman_socket"; then echo "podman: already answering on $podman_socket"; return 0; fi
  command -v podman >/dev/null || { echo "podman: not installed (apt-get install -y podman)" >&2; return 1; }
  # Without CAP_SYS_RESOURCE every container fails on Podman's default ulimits; lower them (ENVIRONMENT.md).
  mkdir -p "$(dirname "$podman_conf")" "$(dirname "$podman_socket")"
  printf '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n' >"$podman_conf"
  # conmon writes its OOM marker into the service's working directory: keep that out of any checkout.
  (cd "$(dirname "$podman_socket")" && CONTAINERS_CONF=$podman_conf setsid podman system service --time=0 "unix://$podman_socket" >/tmp/inframind-podman.log 2>&1 &)
  wait_for podman "$podman_socket" /tmp/inframind-podman.log
}

status=0
for engine in "${engines[@]}"; do
  case "$action:$engine" in
    start:docker) start_docker || status=1 ;;
    start:podman) start_podman || status=1 ;;
    status:docker) if ping "$docker_socket"; then echo "docker: up"; else echo "docker: down"; status=1; fi ;;
    status:podman) if ping "$podman_socket"; then echo "podman: up"; else echo "podman: down"; status=1; fi ;;
    *) echo "usage: scripts/engines.sh [start|status] [docker|podman ...]" >&2; exit 2 ;;
  esac
done
exit $status
