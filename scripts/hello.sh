#!/usr/bin/env bash
# README command 1: set up, build everything, then run the C++ hello-world
# workflow (examples/hello) on the embedded dev server (SQLite in a temp file);
# then the same on `temporal server start-dev`, with the official TypeScript
# SDK's hello world on that server too.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release
temporal=./build/release/src/cli/temporal
"$temporal" --version
echo "== C++ SDK, embedded dev server"
./build/release/examples/hello

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
echo "== C++ SDK, temporal server start-dev on 127.0.0.1:$port"
./build/release/examples/hello "127.0.0.1:$port"
echo "== official TypeScript SDK, same server"
TEMPORAL_ADDRESS="127.0.0.1:$port" node interop/examples/hello.js
