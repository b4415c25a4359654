# Shared by scripts/up, scripts/test and scripts/check: idempotent set-up steps.
# shellcheck shell=bash

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO_ROOT/.venv"
PYTHON="${PYTHON:-python3}"

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }

apt_install() {
    # Debian packages, only as root; RUNLEVEL=1 keeps packages from starting services.
    is_root && command -v apt-get >/dev/null || return 1
    say "installing Debian packages: $*"
    if [ -z "${APT_UPDATED:-}" ]; then apt-get update -qq >&2 && APT_UPDATED=1; fi
    RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

ensure_python() {
    command -v "$PYTHON" >/dev/null || die "$PYTHON not found: install Python 3.11 or newer"
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "Python 3.11 or newer is needed; $PYTHON is $("$PYTHON" --version 2>&1)"
    "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null \
        || apt_install python3-venv \
        || die "the Python venv module is missing: install it (Debian: apt-get install python3-venv)"
}

# setup_venv [dev]: create .venv and install the project with the tested versions.
setup_venv() {
    local extras="" stamp hash
    [ "${1:-}" = dev ] && extras="[dev]"
    if [ ! -x "$VENV/bin/python" ]; then
        ensure_python
        say "creating the virtual environment in .venv"
        "$PYTHON" -m venv "$VENV"
    fi
    stamp="$VENV/.installed${extras:+-dev}"
    hash="$(cat "$REPO_ROOT/pyproject.toml" "$REPO_ROOT/constraints.txt" | sha256sum | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$hash" ]; then
        say "installing Python packages (pinned by constraints.txt)"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
            -c "$REPO_ROOT/constraints.txt" -e "$REPO_ROOT$extras" >&2
        echo "$hash" > "$stamp"
    fi
}

ensure_redis_server() {
    command -v redis-server >/dev/null && return 0
    apt_install redis-server && return 0
    die "redis-server is not installed. Install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis) or set REDIS_URL to a running Redis."
}

ensure_chromium() {
    # Browser tests drive Debian's Chromium; Playwright's own browser download does not work offline.
    [ -x /usr/bin/chromium ] && return 0
    apt_install chromium && return 0
    die "Chromium is needed for the browser tests: install it (Debian: apt-get install chromium)"
}

ensure_node_packages() {
    command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm \
        || die "Node.js and npm are needed for the Node interop tests: install them (Debian: apt-get install nodejs npm)"
    local dir="$REPO_ROOT/tests/interop/node"
    if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
        say "installing Node packages for the interop tests"
        npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >&2
    fi
}
