#!/usr/bin/env bash
# README command 1: set up, build everything, then run the hello-world workflow
# on the dev server (`temporal server start-dev`, SQLite in a temp file).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release
temporal=./build/release/src/cli/temporal
"$temporal" --version

workdir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
       node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
"$temporal" server start-dev --ip 127.0.0.1 --port "$port" --db-filename "$workdir/dev.db" \
  --log-level warn --headless > "$workdir/server.log" 2>&1 &
server_pid=$!
trap 'kill $server_pid 2>/dev/null; wait $server_pid 2>/dev/null; rm -rf "$workdir"' EXIT
for _ in $(seq 1 100); do
  grep -q '^Server:' "$workdir/server.log" && break
  kill -0 $server_pid 2>/dev/null || { cat "$workdir/server.log"; exit 1; }
  sleep 0.1
done
echo "Dev server on 127.0.0.1:$port"
# Today the worker and client are the official TypeScript SDK; the C++ SDK's
# hello world (examples/hello) takes over once it lands.
TEMPORAL_ADDRESS="127.0.0.1:$port" node interop/examples/hello.js
