#!/usr/bin/env bash
# The README's Quick start on a machine that has nothing but Deno: in a clean
# clone of this checkout's HEAD, with an empty DENO_DIR (so npm packages are
# fetched and the code type-checked from scratch) and the optional components
# hidden (no python3/jupyter on PATH, Debian's Fashion-MNIST folder pointed
# at an empty one, no Vulkan or EGL driver, so no WebGPU adapter):
#   1. `deno task repro:all --preset smoke` completes;
#   2. `deno task test` on the test files that need those components passes
#      and prints one skip line per component, naming its install command;
#   3. the same under POF_REQUIRE_ALL=1 fails, naming every missing component.
# Prints `fresh-clone check: ok` or the first thing that went wrong, and
# exits 0 or 1. `.ci/run` calls it; it needs the npm registry.
#
#   bash tools/fresh_clone_check.sh [--keep]   (--keep: leave the temp folder)
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KEEP=0
[ "${1:-}" = "--keep" ] && KEEP=1
TMP="$(mktemp -d "${TMPDIR:-/tmp}/pof-fresh.XXXXXX")"
cleanup() { [ "$KEEP" = 1 ] || rm -rf "$TMP"; }
trap cleanup EXIT
fail() {
  echo "fresh-clone check: FAILED: $*"
  echo "  (logs in $TMP; rerun with --keep to keep them)"
  KEEP=1
  exit 1
}

DENO="$(command -v deno)" || fail "deno is not on PATH"
GIT="$(command -v git)" || fail "git is not on PATH"
mkdir -p "$TMP/bin" "$TMP/empty"
ln -s "$DENO" "$TMP/bin/deno"
ln -s "$GIT" "$TMP/bin/git"
git clone -q "$ROOT" "$TMP/clone" || fail "git clone $ROOT"

# Only deno and git on PATH; nothing of the optional components reachable.
hidden=(
  env -u PYTHON -u POF_REQUIRE_ALL -u POF_DATA_DIR -u POF_DATA_SOURCES
  PATH="$TMP/bin"
  HOME="$TMP/home"
  DENO_DIR="$TMP/deno_dir"
  NO_COLOR=1
  DENO_NO_PROMPT=1
  POF_DEBIAN_FASHION_DIR="$TMP/empty"
  VK_DRIVER_FILES="$TMP/empty/none.json"
  VK_ICD_FILENAMES="$TMP/empty/none.json"
  __EGL_VENDOR_LIBRARY_FILENAMES="$TMP/empty/none.json"
)
cd "$TMP/clone" || fail "cd $TMP/clone"

echo "fresh-clone: deno task repro:all --preset smoke (empty DENO_DIR)"
t0=$SECONDS
if ! "${hidden[@]}" deno task repro:all --preset smoke >"$TMP/repro.log" 2>&1; then
  tail -n 30 "$TMP/repro.log"
  fail "deno task repro:all --preset smoke exited non-zero"
fi
grep -q "^Summary (preset smoke" "$TMP/repro.log" || fail "repro:all printed no summary"
# Quiet first run: no dependency warning, no install-script box.
for noise in "DeprecationWarning" "Ignored build scripts" "Hi, looks like"; do
  if grep -q "$noise" "$TMP/repro.log"; then fail "repro:all printed '$noise'"; fi
done
echo "fresh-clone: repro:all --preset smoke done in $((SECONDS - t0)) s"
# First use changed no tracked file (deno.lock stays as committed).
changed="$(git status --porcelain --untracked-files=no)"
[ -z "$changed" ] || fail "repro:all changed tracked files: $changed"

# The test files whose tests need Jupyter, Debian's dataset, lavapipe.
FILES=(lib/backend_test.ts lib/data/datasets_test.ts tools/run_notebooks_test.ts)
COMPONENTS=("Jupyter" "dataset-fashion-mnist" "WebGPU adapter")
INSTALLS=("apt-get install jupyter-client" "apt-get install dataset-fashion-mnist" "apt-get install mesa-vulkan-drivers")

echo "fresh-clone: deno task test ${FILES[*]}"
if ! "${hidden[@]}" deno task test "${FILES[@]}" >"$TMP/test.log" 2>&1; then
  tail -n 30 "$TMP/test.log"
  fail "deno task test on ${FILES[*]} failed with the components missing"
fi
for i in 0 1 2; do
  n="$(grep -c "\[skipped: needs .*${COMPONENTS[$i]}.*install: .*${INSTALLS[$i]}" "$TMP/test.log")"
  [ "$n" -ge 1 ] || fail "no skip line naming ${COMPONENTS[$i]} and '${INSTALLS[$i]}'"
  echo "fresh-clone: skip line for ${COMPONENTS[$i]}: $(grep -m1 "\[skipped: needs .*${COMPONENTS[$i]}" "$TMP/test.log" | sed 's/.*\[skipped: //; s/\].*//')"
done

echo "fresh-clone: POF_REQUIRE_ALL=1 deno task test ${FILES[*]} (must fail)"
if "${hidden[@]}" POF_REQUIRE_ALL=1 deno task test "${FILES[@]}" >"$TMP/require.log" 2>&1; then
  fail "under POF_REQUIRE_ALL=1 the tests passed with components missing"
fi
for i in 0 1 2; do
  grep -q "POF_REQUIRE_ALL=1 and this test needs .*${COMPONENTS[$i]}" "$TMP/require.log" ||
    fail "under POF_REQUIRE_ALL=1 no failure names ${COMPONENTS[$i]}"
done
grep -q "\[skipped:" "$TMP/require.log" && fail "under POF_REQUIRE_ALL=1 a test was still skipped"

echo "fresh-clone check: ok"
