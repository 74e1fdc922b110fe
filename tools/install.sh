#!/usr/bin/env bash
# The one install script of this project. `.ci/run` calls it on a fresh Debian
# machine; the Dockerfile calls it with --cuda on the NVIDIA CUDA image; users
# may call it on their own machines. Run it from anywhere; it works on the
# checkout that contains it. Idempotent: what is already there is skipped.
#
#   bash tools/install.sh [--cuda] [--skip-apt] [--skip-jupyter]
#
#   --cuda          also the CUDA-only parts: the CUDA apt packages (ptxas) and
#                   tfjs-node-gpu's install script, which downloads
#                   libtensorflow 2.9.1 (GPU) and its addon from
#                   storage.googleapis.com. Same as POF_INSTALL_CUDA=1.
#   --skip-apt      install no Debian packages (no root needed). Same as
#                   POF_SKIP_APT=1.
#   --skip-jupyter  do not register the Deno Jupyter kernel.
#
# Environment: DENO_INSTALL_DIR (default /usr/local/bin, or ~/.local/bin when
# not root) is where Deno goes when it is missing.
#
# tests/docker_sync_test.ts checks that the pins below agree with deno.json,
# deno.lock and the Dockerfile.
set -euo pipefail

# ---- pins and package lists (extend the lists; keep one package a word) ----
DENO_VERSION="2.9.6"
TFJS_VERSION="4.22.0"
# npm registry tarballs of the Deno binary and their integrity (npm view
# @deno/linux-<arch>-glibc@2.9.6 dist.integrity).
DENO_NPM_INTEGRITY_X64="sha512-3md4TKLCuzsLDmfOoC5KN7NAZaxSVkMgm64vg6foD00JBADCpYS2/5QqXfzgnP5ZQz3iLP9vBQJtEgc116OAoQ=="
DENO_NPM_INTEGRITY_ARM64="sha512-poqhoH9B3nYloigEMPT5t8HY+wBeiuea1An5Q7fqgJzP0SYmWsoS/oUnWO/pEiA4ofzIBy1Elt/in58xKtxEoQ=="
# Debian / Ubuntu packages the project and its tests need.
APT_PACKAGES="ca-certificates curl python3 dataset-fashion-mnist jupyter-client python3-nbclient python3-ipykernel mesa-vulkan-drivers"
# Only with --cuda: from NVIDIA's apt repository, which the nvidia/cuda images
# configure. cuda-nvcc-11-8 provides ptxas for PTX JIT on GPUs newer than the
# libtensorflow build.
CUDA_APT_PACKAGES="cuda-nvcc-11-8"
# npm packages whose install scripts run only with --cuda.
CUDA_ALLOW_SCRIPTS="npm:@tensorflow/tfjs-node-gpu@${TFJS_VERSION}"

# ---- options ----
CUDA="${POF_INSTALL_CUDA:-0}"
SKIP_APT="${POF_SKIP_APT:-0}"
SKIP_JUPYTER=0
for arg in "$@"; do
  case "$arg" in
    --cuda) CUDA=1 ;;
    --skip-apt) SKIP_APT=1 ;;
    --skip-jupyter) SKIP_JUPYTER=1 ;;
    -h | --help)
      sed -n '2,20p' "$0"
      exit 0
      ;;
    *)
      echo "install.sh: unknown option '$arg' (valid: --cuda, --skip-apt, --skip-jupyter)" >&2
      exit 2
      ;;
  esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log() { printf '[install] %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "install.sh: need root (or sudo) for: $* (or pass --skip-apt)" >&2
    exit 1
  fi
}

# ---- 1. Debian packages ----
apt_install() {
  local missing=()
  local p
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
  if [ "${#missing[@]}" = 0 ]; then
    log "apt: all present ($*)"
    return
  fi
  log "apt: installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

if [ "$SKIP_APT" = 1 ]; then
  log "apt: skipped (--skip-apt)"
else
  # shellcheck disable=SC2086 # word splitting of the lists is intended
  apt_install $APT_PACKAGES
  if [ "$CUDA" = 1 ]; then
    # shellcheck disable=SC2086
    apt_install $CUDA_APT_PACKAGES
  fi
fi

# ---- 2. Deno, pinned, from the npm registry ----
deno_version() { "$1" --version 2>/dev/null | head -n1 | awk '{print $2}'; }

DENO_BIN="$(command -v deno || true)"
if [ -n "$DENO_BIN" ] && [ "$(deno_version "$DENO_BIN")" = "$DENO_VERSION" ]; then
  log "deno: $DENO_VERSION present at $DENO_BIN"
else
  case "$(uname -m)" in
    x86_64 | amd64) arch=x64 integrity="$DENO_NPM_INTEGRITY_X64" ;;
    aarch64 | arm64) arch=arm64 integrity="$DENO_NPM_INTEGRITY_ARM64" ;;
    *)
      echo "install.sh: no Deno build for machine '$(uname -m)'" >&2
      exit 1
      ;;
  esac
  if [ "$(id -u)" = 0 ]; then
    dest="${DENO_INSTALL_DIR:-/usr/local/bin}"
  else
    dest="${DENO_INSTALL_DIR:-$HOME/.local/bin}"
  fi
  url="https://registry.npmjs.org/@deno/linux-${arch}-glibc/-/linux-${arch}-glibc-${DENO_VERSION}.tgz"
  log "deno: fetching $DENO_VERSION from $url"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  curl -fsSL --retry 3 -o "$tmp/deno.tgz" "$url"
  # npm's integrity is base64 of the SHA-512; compare in hex (coreutils only).
  want="$(printf '%s' "${integrity#sha512-}" | base64 -d | od -An -v -tx1 | tr -d ' \n')"
  got="$(sha512sum "$tmp/deno.tgz" | awk '{print $1}')"
  if [ "$got" != "$want" ]; then
    echo "install.sh: integrity mismatch for $url: sha512 $got, expected $want ($integrity)" >&2
    exit 1
  fi
  tar -xzf "$tmp/deno.tgz" -C "$tmp" package/deno
  mkdir -p "$dest"
  install -m 0755 "$tmp/package/deno" "$dest/deno.tmp"
  mv -f "$dest/deno.tmp" "$dest/deno"
  DENO_BIN="$dest/deno"
  case ":$PATH:" in
    *":$dest:"*) ;;
    *) log "deno: add $dest to PATH" ;;
  esac
  log "deno: installed $(deno_version "$DENO_BIN") at $DENO_BIN"
fi

# ---- 3. npm dependencies, exactly as locked in deno.lock ----
# The offline import map (deno.json's imports with @std mapped to tools/std)
# keeps deno install from resolving jsr:@std, which deno.lock does not record
# because CI cannot reach JSR; --frozen-lockfile fails if deno.lock is stale.
cd "$ROOT"
NPM_INSTALL=(install --frozen-lockfile --import-map=tools/offline_import_map.json)
if [ "$CUDA" = 1 ]; then
  NPM_INSTALL+=(--allow-scripts="$CUDA_ALLOW_SCRIPTS")
fi
log "npm: deno ${NPM_INSTALL[*]}"
"$DENO_BIN" "${NPM_INSTALL[@]}"
if [ "$CUDA" = 1 ]; then
  # The addon must be in every lib/napi-v* folder the loader may pick (see
  # tools/fill_napi_dirs.sh).
  bash "$ROOT/tools/fill_napi_dirs.sh" \
    "$ROOT"/node_modules/.deno/@tensorflow+tfjs-node-gpu@"$TFJS_VERSION"/node_modules/@tensorflow/tfjs-node-gpu
fi

# ---- 4. Jupyter kernel ----
if [ "$SKIP_JUPYTER" = 1 ]; then
  log "jupyter: skipped (--skip-jupyter)"
elif command -v jupyter >/dev/null 2>&1 || python3 -c "import jupyter_client" >/dev/null 2>&1; then
  "$DENO_BIN" jupyter --install --force
  log "jupyter: Deno kernel registered"
else
  log "jupyter: no jupyter_client found; Deno kernel not registered"
fi

log "done (cuda=$CUDA)"
