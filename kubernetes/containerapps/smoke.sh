#!/usr/bin/env bash
# Waits for one event's execution on a running sandstream and prints its status and stdout: the
# last step of deploy.sh (a smoke test the operator sees), usable on its own against any instance.
#   API_KEY=... kubernetes/containerapps/smoke.sh https://sandstream.example.net /the/event/source the-event-id
# The execution is the one the service gives that event: its executionId is a pure function of the
# event's source and id (API.md; execution-id.py computes it). It polls GET /executions/{id} with
# API_KEY (a read key, from the environment: never an argument) until the result is there.
# Optional: SMOKE_TIMEOUT (300 seconds, then it fails), SMOKE_INTERVAL (5 seconds between looks).
# Exit 0: the execution succeeded. 1: it failed, timed out or was refused, or no result came in
# time. 2: bad arguments or a refused key.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

if [ $# -ne 3 ]; then
  echo "usage: API_KEY=... smoke.sh <app-url> <event-source> <event-id>" >&2
  exit 2
fi
app_url=${1%/}
if [ -z "${API_KEY:-}" ]; then
  echo "smoke.sh: set API_KEY to a read key of the app (api-keys in its Key Vault)" >&2
  exit 2
fi
API_KEY=${API_KEY%@*}   # the vault keeps KEY@SCOPE; the header carries the key
SMOKE_TIMEOUT=${SMOKE_TIMEOUT:-300}
SMOKE_INTERVAL=${SMOKE_INTERVAL:-5}
seconds() {
  if ! [[ $2 =~ ^[1-9][0-9]*$ ]]; then
    echo "smoke.sh: $1 must be a whole number of seconds, not '$2'" >&2
    exit 2
  fi
}
seconds SMOKE_TIMEOUT "$SMOKE_TIMEOUT"
seconds SMOKE_INTERVAL "$SMOKE_INTERVAL"
execution_id=$(python3 "$here/execution-id.py" "$2" "$3")
echo "Smoke test: waiting up to ${SMOKE_TIMEOUT}s for execution $execution_id (event $3 from $2)"

answer=$(mktemp)
trap 'rm -f "$answer"' EXIT
deadline=$((SECONDS + SMOKE_TIMEOUT))
last=none
while :; do
  code=$(curl -sS -o "$answer" -w '%{http_code}' --max-time 30 \
    -H @<(printf 'Authorization: Bearer %s\n' "$API_KEY") "$app_url/executions/$execution_id" 2>/dev/null || true)
  case "$code" in
    200)
      status=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get("status", ""))' "$answer" 2>/dev/null || true)
      case "$status" in
        Queued | Running) last="status $status" ;;
        "") last="HTTP 200 without a status: $(head -c 300 "$answer")" ;;
        *)
          echo "Smoke test: execution $execution_id: $status"
          python3 - "$answer" <<'PRINT'
import json, sys
result = json.load(open(sys.argv[1]))
for stream in ("stdout", "stderr"):
    if result.get(stream):
        print(f"--- {stream}\n{result[stream].rstrip()}")
if result.get("error"):
    print(f"--- error\n{result['error'].get('type')}: {result['error'].get('message')}")
PRINT
          if [ "$status" = Succeeded ]; then exit 0; fi
          echo "smoke.sh: the test event's execution ended $status, not Succeeded" >&2
          exit 1
          ;;
      esac
      ;;
    401 | 403)
      echo "smoke.sh: $app_url refused the API key (HTTP $code): check api-keys in the Key Vault" >&2
      exit 2
      ;;
    404) last="not there yet (404)" ;;
    000) last="no answer from $app_url" ;;
    *) last="HTTP ${code:-none}: $(head -c 300 "$answer" | tr '\n' ' ')" ;;
  esac
  if [ $SECONDS -ge $deadline ]; then
    echo "smoke.sh: no result for execution $execution_id after ${SMOKE_TIMEOUT}s (last answer: $last);" \
      "look it up later at $app_url/executions/$execution_id" >&2
    exit 1
  fi
  sleep "$SMOKE_INTERVAL"
done
