#!/usr/bin/env bash
# Builds arbor, serves the built-in demo model on a free localhost port, waits for /health, runs
# the openai-npm end-to-end script against it, and stops the server. Exits with the script's
# status. Needs Go and Node.js (npm ci installs the pinned openai package on first use).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

(cd "$root" && go build -o "$work/arbor" ./cmd/arbor)
if [[ ! -d "$here/node_modules/openai" ]]; then
  (cd "$here" && npm ci --no-audit --no-fund --silent)
fi
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
url="http://127.0.0.1:$port"
# --tree=false: the plain API's checks run on plain chat (the built-in model's default is tree
# mode, where max_tokens may outgrow the context); the task-tree check asks for a tree itself.
"$work/arbor" serve --addr "127.0.0.1:$port" --data-dir "$work/data" --ctx 1024 --kv-pages 256 --threads 2 --tree=false 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 1 600); do
  if curl -fsS "$url/health" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "run.sh: arbor serve exited early:" >&2; cat "$work/server.log" >&2; exit 1
  fi
  sleep 0.1
done
curl -fsS "$url/health" >/dev/null || { echo "run.sh: server never became healthy" >&2; cat "$work/server.log" >&2; exit 1; }
status=0
ARBOR_URL="$url" node "$here/e2e.mjs" || status=$?
if [[ $status -ne 0 ]]; then
  echo "run.sh: server log:" >&2; tail -n 50 "$work/server.log" >&2
fi
# Graceful shutdown must exit 0.
kill -TERM "$server_pid"
if ! wait "$server_pid"; then
  echo "run.sh: arbor serve did not exit cleanly on SIGTERM" >&2; status=1
fi
server_pid=""
exit $status
