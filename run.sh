#!/usr/bin/env bash
# The README's commands. Each is idempotent: run it as often as you like.
#   ./run.sh demo    install, migrate, load the demo estate, serve on http://127.0.0.1:8000
#   ./run.sh test    install what the tests need, check the code, run the whole suite
#   ./run.sh check   ruff and mypy only
set -euo pipefail
cd "$(dirname "$0")"

VENV="${FIELDOPS_VENV:-.venv}"
PY="$VENV/bin/python"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

need_python() {
    local candidate
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return
        fi
    done
    echo "fieldops needs Python 3.11 or newer (apt-get install python3 python3-venv)" >&2
    exit 1
}

# apt-get install the named Debian packages that are missing, when we may.
apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if ! command -v apt-get >/dev/null 2>&1; then
        say "please install: ${missing[*]} (no apt-get here)"
        return 0
    fi
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo"; else
            say "please install: ${missing[*]} (needs root)"
            return 0
        fi
    fi
    say "installing system packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

venv() {
    local extras="$1"
    if [ ! -x "$PY" ]; then
        say "creating $VENV"
        "$(need_python)" -m venv "$VENV"
    fi
    local stamp="$VENV/.installed-$extras"
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        say "installing Python packages ($extras)"
        "$PY" -m pip install -q --upgrade pip >/dev/null
        "$PY" -m pip install -q -e ".[$extras]"
        touch "$stamp"
    fi
}

check() {
    say "ruff"
    "$VENV/bin/ruff" check server device_bridge tests bench migrations
    say "mypy"
    "$VENV/bin/mypy"
}

case "${1:-}" in
demo)
    venv postgres
    export FIELDOPS_DATA_DIR="${FIELDOPS_DATA_DIR:-./var}"
    "$VENV/bin/fieldops" migrate
    "$VENV/bin/fieldops" demo
    base="http://${FIELDOPS_HTTP_HOST:-127.0.0.1}:${FIELDOPS_HTTP_PORT:-8000}"
    "$VENV/bin/fieldops" serve &
    server=$!
    trap 'kill $server ${simulator:-} 2>/dev/null; wait 2>/dev/null' EXIT INT TERM
    for _ in $(seq 1 100); do
        "$PY" -c "import urllib.request,sys; urllib.request.urlopen('$base/ready', timeout=1)" 2>/dev/null && break
        kill -0 $server 2>/dev/null || exit 1
        sleep 0.2
    done
    # The simulator plays the demo estate's devices onto the server's broker, so the desk is live.
    broker="${FIELDOPS_MQTT_URL:-mqtt://127.0.0.1:$(cat "$FIELDOPS_DATA_DIR/broker/port" 2>/dev/null || echo 1883)}"
    "$VENV/bin/fieldops" bridge --simulate device_bridge/examples/estate.toml --rate "${DEMO_RATE:-5}" \
        --mqtt-url "$broker" --spool "$FIELDOPS_DATA_DIR/simulator-spool.db" --log-level WARNING &
    simulator=$!
    say "fieldops is up: control desk $base/desk/  phone app $base/app/  API $base/schema  (Ctrl+C stops)"
    wait $server
    ;;
test)
    apt_install mosquitto chromium fonts-noto-cjk openssl
    # Node.js may come from elsewhere than Debian (its npm then is no Debian package).
    command -v npm >/dev/null 2>&1 || apt_install nodejs npm
    venv dev
    # The push tests run a real push-service emulator from npm.
    [ tests/push/node_modules/.package-lock.json -nt tests/push/package-lock.json ] || npm ci --prefix tests/push
    check
    # PostgreSQL tests use the local server when one answers (CI fails instead of skipping).
    if [ -z "${FIELDOPS_TEST_POSTGRES_URL:-}" ] &&
        "$PY" -c 'import socket; socket.create_connection(("127.0.0.1", 5432), 1)' 2>/dev/null; then
        export FIELDOPS_TEST_POSTGRES_URL="postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    fi
    say "pytest"
    exec "$VENV/bin/pytest" "${@:2}"
    ;;
check)
    venv dev
    check
    ;;
*)
    echo "usage: ./run.sh demo | test [pytest args] | check" >&2
    exit 2
    ;;
esac
