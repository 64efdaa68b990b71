# Shared by the scripts in this folder: paths, logging and the tool installers.
# Every installer checks first and installs only what is missing, so warm runs are fast.

set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WASM_BINDGEN_VERSION="0.2.130"
# wasm-opt shrinks the browser bundle; from npm's binaryen (Debian's is too old: its output
# breaks hydration).
BINARYEN_VERSION="132.0.0"
OPENAI_PY_VERSION="3.57.0"
OPENAPI_VALIDATOR_PY_VERSION="0.9.0"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
export PATH="$HOME/.cargo/bin:$PATH"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=0
apt_install() {
  if [ "$apt_updated" -eq 0 ]; then
    as_root apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

ensure_rust_tools() {
  if ! command -v cargo >/dev/null; then
    echo "cargo not found: install Rust from rustup first" >&2
    exit 1
  fi
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  if ! wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION"; then
    say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 5 minutes, once)"
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
  fi
}

ensure_wasm_opt() {
  local tools="$CARGO_TARGET_DIR/tools"
  WASM_OPT="$tools/node_modules/binaryen/bin/wasm-opt"
  if ! [ -x "$WASM_OPT" ] || ! grep -q "\"version\": \"$BINARYEN_VERSION\"" "$tools/node_modules/binaryen/package.json"; then
    if ! command -v npm >/dev/null; then
      say "installing Node.js and npm (Debian packages) for wasm-opt"
      apt_install nodejs npm
    fi
    say "installing wasm-opt (npm binaryen $BINARYEN_VERSION)"
    mkdir -p "$tools"
    npm install --prefix "$tools" --no-audit --no-fund --no-save "binaryen@$BINARYEN_VERSION" >/dev/null
  fi
}

ensure_chromium() {
  if ! [ -x /usr/bin/chromium ]; then
    say "installing Chromium (Debian package)"
    apt_install chromium
  fi
}

pg_bin_dir() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

ensure_postgres() {
  if [ -z "$(pg_bin_dir)" ] || ! [ -x "$(pg_bin_dir)/initdb" ]; then
    say "installing PostgreSQL (Debian package)"
    apt_install postgresql
  fi
}

ensure_node_deps() {
  if ! command -v npm >/dev/null; then
    say "installing Node.js and npm (Debian packages)"
    apt_install nodejs npm
  fi
  if ! [ -d "$ROOT/end2end/node_modules/@playwright/test" ]; then
    say "installing the browser-test runner (npm ci)"
    (cd "$ROOT/end2end" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
  fi
}

# The official OpenAI Python client, and an OpenAPI validator for the API document, in a
# virtualenv beside the build (kept between runs).
ensure_python_tools() {
  local venv="$CARGO_TARGET_DIR/pyenv"
  if ! "$venv/bin/python" -c "import openai, openapi_spec_validator" 2>/dev/null; then
    say "installing the openai and openapi-spec-validator Python packages (virtualenv in $venv)"
    if [ ! -x "$venv/bin/pip" ] && ! python3 -m venv "$venv" 2>/dev/null; then
      apt_install python3-venv
      python3 -m venv "$venv"
    fi
    "$venv/bin/pip" install -q --disable-pip-version-check "openai==$OPENAI_PY_VERSION" \
      "openapi-spec-validator==$OPENAPI_VALIDATOR_PY_VERSION"
  fi
  export SETPOINT_TEST_PYTHON="$venv/bin/python"
}
