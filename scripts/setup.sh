#!/usr/bin/env bash
# Installs what the build and the tests need, and only what is missing.
# Idempotent: safe to run any number of times. Debian 12 (bookworm).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libsqlite3-dev sqlite3 zlib1g-dev libssl-dev libjemalloc-dev
  nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev prometheus-cpp-dev
  nodejs npm
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  # nodejs/npm may come from elsewhere (e.g. NodeSource); a working binary is enough.
  case "$p" in
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm) command -v npm >/dev/null 2>&1 && continue ;;
  esac
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
      echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"; }; then
    echo "setup: apt-get could not install: ${missing[*]}" >&2
    echo "setup: install them by hand and run this script again." >&2
    exit 1
  fi
fi

# The official TypeScript SDK 1.24 requires Node.js >= 20.3 (Debian 12's own
# nodejs is 18; this project's machines ship 20).
node_version=$(node -p 'process.versions.node' 2>/dev/null || echo 0.0.0)
if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=3)?0:1)' 2>/dev/null; then
  echo "setup: Node.js >= 20.3 is required for the official TypeScript SDK (found: $node_version)." >&2
  echo "setup: install a newer nodejs package (e.g. from NodeSource) and run this script again." >&2
  exit 1
fi

# The official TypeScript SDK (our interop peer) and the Temporal API protos,
# pinned by interop/package-lock.json. Re-run only when the lockfile changed.
stamp=interop/node_modules/.setup-stamp
want=$(sha256sum interop/package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: npm ci in interop/"
  (cd interop && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" > "$stamp"
fi
