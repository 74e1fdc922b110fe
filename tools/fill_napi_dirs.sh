#!/usr/bin/env bash
# Usage: bash tools/fill_napi_dirs.sh PACKAGE_DIR...
#
# A known tfjs-node(-gpu) pitfall: its loader (node-pre-gyp's `find`) looks
# for the native addon in lib/napi-v<N>/tfjs_binding.node, N the highest of
# package.json's binary.napi_versions that the running runtime's N-API
# supports; the package's install script put the addon in the folder for the
# N-API version of the runtime that ran it. When they differ (installed by
# one Deno or Node, run by another), loading fails with "Cannot find module
# .../lib/napi-vN/tfjs_binding.node". This copies the folder that holds the
# addon (the addon and its libtensorflow links, which point to ../../deps at
# the same depth) into every napi-v<N> of napi_versions that lacks it.
# tools/install.sh --cuda runs it; tools/fill_napi_dirs_test.ts tests it.
set -euo pipefail
for pkg in "$@"; do
  src=""
  for d in "$pkg"/lib/napi-v*; do
    if [ -f "$d/tfjs_binding.node" ]; then src="$d"; break; fi
  done
  if [ -z "$src" ]; then
    echo "fill_napi_dirs: no lib/napi-v*/tfjs_binding.node under '$pkg' (did the package's install script run?)" >&2
    exit 1
  fi
  versions="$(tr -d ' \n' <"$pkg/package.json" | grep -o '"napi_versions":\[[0-9,]*\]' | grep -o '[0-9]\+' || true)"
  if [ -z "$versions" ]; then
    echo "fill_napi_dirs: no binary.napi_versions in '$pkg/package.json'" >&2
    exit 1
  fi
  for v in $versions; do
    dst="$pkg/lib/napi-v$v"
    if [ ! -f "$dst/tfjs_binding.node" ]; then
      mkdir -p "$dst"
      cp -a "$src"/. "$dst"/
      echo "fill_napi_dirs: $dst <- $src"
    fi
  done
done
