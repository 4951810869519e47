#!/usr/bin/env bash
# One timed lifecycle done from the shell, for Infra.EngineBench's lifecycle comparison. Bash does the timing
# ($EPOCHREALTIME, microseconds) right around the commands, so neither the .NET process that started this
# script nor bash's own start-up is counted against curl or the CLI.
#
#   shell-lifecycle.sh curl SOCKET NAME BODY   the 4 Engine API calls as 4 curl processes:
#                                              create, start, wait (condition=not-running), DELETE ?force=1&v=1
#   shell-lifecycle.sh cli COMMAND [ARGS...]   one command, e.g. docker run --rm --network none IMAGE exit 0
#
# Prints one line: "total_us create_us start_us wait_us remove_us" (curl) or "total_us" (cli).
# Exits non-zero, with the reason on stderr, when any step fails.
set -euo pipefail

case "${1:-}" in
  curl)
    socket=$2 name=$3 body=$4
    base=http://d/v1.41/containers
    t0=${EPOCHREALTIME/./}
    created=$(curl -sS --unix-socket "$socket" -X POST "$base/create?name=$name" \
      -H 'Content-Type: application/json' -d "$body" -w '\n%{http_code}')
    t1=${EPOCHREALTIME/./}
    [[ ${created##*$'\n'} == 201 && $created =~ \"Id\":\"([0-9a-f]+)\" ]] || { echo "create failed: $created" >&2; exit 1; }
    id=${BASH_REMATCH[1]}
    started=$(curl -sS --unix-socket "$socket" -X POST "$base/$id/start" -o /dev/null -w '%{http_code}')
    t2=${EPOCHREALTIME/./}
    waited=$(curl -sS --unix-socket "$socket" -X POST "$base/$id/wait?condition=not-running" -w '\n%{http_code}')
    t3=${EPOCHREALTIME/./}
    removed=$(curl -sS --unix-socket "$socket" -X DELETE "$base/$id?force=1&v=1" -o /dev/null -w '%{http_code}')
    t4=${EPOCHREALTIME/./}
    [[ $started == 204 ]] || { echo "start answered $started" >&2; exit 1; }
    [[ ${waited##*$'\n'} == 200 && $waited =~ \"StatusCode\":0[,}] ]] || { echo "wait failed: $waited" >&2; exit 1; }
    [[ $removed == 204 ]] || { echo "remove answered $removed" >&2; exit 1; }
    t0=$((10#$t0)) t1=$((10#$t1)) t2=$((10#$t2)) t3=$((10#$t3)) t4=$((10#$t4))
    echo "$((t4 - t0)) $((t1 - t0)) $((t2 - t1)) $((t3 - t2)) $((t4 - t3))"
    ;;
  cli)
    shift
    errors=$(mktemp)
    trap 'rm -f -- "$errors"' EXIT
    t0=${EPOCHREALTIME/./}
    status=0
    "$@" >/dev/null 2>"$errors" || status=$?
    t1=${EPOCHREALTIME/./}
    [[ $status == 0 ]] || { echo "$* exited $status: $(head -c 2000 "$errors")" >&2; exit 1; }
    echo "$((10#$t1 - 10#$t0))"
    ;;
  *)
    echo "usage: shell-lifecycle.sh curl SOCKET NAME BODY | cli COMMAND [ARGS...]" >&2
    exit 2
    ;;
esac
