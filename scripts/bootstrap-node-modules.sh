#!/usr/bin/env bash
# node_modules for this checkout: `npm ci` when it is missing or was installed from another
# package-lock.json (compared by content: a fresh clone or `git worktree add` gives every file a new
# mtime). Never through a symlinked node_modules: `npm ci` empties the directory first, so it would
# wipe the other checkout's packages while that checkout is in use.
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"
say() { echo "bootstrap: $*"; }

lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -L node_modules ]; then
  if [ ! -f node_modules/.package-lock.json ]; then
    echo "bootstrap: node_modules is a symlink to $(readlink node_modules) with no packages in it; not running npm ci through it — run 'npm ci' in the checkout it belongs to, or remove the symlink" >&2
    exit 1
  fi
  say "node_modules is a symlink to $(readlink node_modules): used as it is (npm ci through it would empty the other checkout's)"
elif [ ! -f node_modules/.package-lock.json ] || [ "$(cat node_modules/.bootstrap-lock-sha256 2>/dev/null)" != "$lock_sum" ]; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_sum" > node_modules/.bootstrap-lock-sha256
fi
