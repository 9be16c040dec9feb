#!/usr/bin/env bash
# One command to set up and run serialtrace on a Debian machine (as root, or with sudo).
#
#   bash quickstart.sh demo    set up, then run the main job (a simulated line end to end)
#   bash quickstart.sh test    set up, then run lint and the whole test suite
#   bash quickstart.sh lock    refresh constraints.txt (the locked package versions)
#
# Idempotent: system packages are installed only when missing, the virtualenv is created once
# and re-synced only when pyproject.toml or constraints.txt changes, services are started only when down.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
ROOT=$(pwd)
VENV="$ROOT/.venv"
target=${1:-}
shift || true

log() { printf '\033[1m[quickstart]\033[0m %s\n' "$*" >&2; }

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

apt_updated=""
apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing system packages: ${missing[*]}"
    if [ -z "$apt_updated" ]; then
        $SUDO apt-get update -qq
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

python_ok() {
    command -v python3 >/dev/null 2>&1 \
        && python3 -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null
}

setup_system() {
    # libdmtx0b: pylibdmtx's C library; mosquitto: the MQTT broker the demo and tests start.
    apt_install libdmtx0b mosquitto ca-certificates
    if ! python_ok; then apt_install python3 python3-venv python3-dev; fi
}

setup_venv() {
    if [ ! -x "$VENV/bin/python" ]; then
        log "creating virtualenv in $VENV"
        python3 -m venv "$VENV"
    fi
    local stamp="$VENV/.serialtrace-installed"
    local want
    want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        log "installing Python packages (versions locked in constraints.txt)"
        "$VENV/bin/python" -m pip install -q --upgrade pip
        "$VENV/bin/python" -m pip install -q -c constraints.txt -e '.[dev]'
        echo "$want" > "$stamp"
    fi
}

lock() {
    # Refresh constraints.txt: the newest releases pyproject.toml admits, resolved in a
    # fresh virtualenv, every version pinned. Commit the result; CI and users install it.
    local tmp
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' RETURN
    log "resolving pyproject.toml in a fresh virtualenv"
    python3 -m venv "$tmp/venv"
    "$tmp/venv/bin/python" -m pip install -q --upgrade pip
    "$tmp/venv/bin/python" -m pip install -q -e '.[dev]'
    {
        echo "# Locked versions of every Python package serialtrace installs (with [dev])."
        echo "# Written by 'bash quickstart.sh lock'; quickstart.sh installs with -c constraints.txt."
        "$tmp/venv/bin/python" -m pip freeze --exclude-editable | LC_ALL=C sort -f
    } > constraints.txt
    log "constraints.txt: $(grep -cv '^#' constraints.txt) packages pinned"
}

setup_postgres() {
    # The tests run every store test on SQLite and on PostgreSQL (database "test").
    if command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432; then
        return 0
    fi
    apt_install postgresql
    local version
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    log "starting PostgreSQL $version"
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    for _ in $(seq 1 30); do pg_isready -q && break; sleep 1; done
    local me
    me=$(id -un)
    $SUDO -u postgres psql -qtAc "SELECT 1 FROM pg_roles WHERE rolname='$me'" | grep -q 1 \
        || $SUDO -u postgres createuser -s "$me"
    $SUDO -u postgres psql -qtAc "SELECT 1 FROM pg_database WHERE datname='test'" | grep -q 1 \
        || $SUDO -u postgres createdb -O "$me" test
}

case "$target" in
    demo)
        setup_system
        setup_venv
        exec "$VENV/bin/serialtrace" demo "$@"
        ;;
    test)
        total_started=$SECONDS
        setup_system
        # chromium: the headless browser the web UI tests drive with Playwright.
        apt_install chromium fonts-dejavu-core
        setup_venv
        setup_postgres
        log "ruff"
        "$VENV/bin/ruff" check .
        "$VENV/bin/ruff" format --check .
        log "mypy (strict, every package)"
        "$VENV/bin/mypy"
        log "import contracts (the layers of the design)"
        "$VENV/bin/lint-imports"
        log "pytest"
        started=$SECONDS
        # Byte-code caches (__pycache__, ignored by git): every test worker collects every
        # module and the suite starts hundreds of Python processes; without a cache each one
        # compiles what it imports (collection alone: 10.8 -> 5.5 s of CPU per worker). So they
        # are written even where the environment sets PYTHONDONTWRITEBYTECODE (pytest keeps its
        # rewritten test modules there too).
        unset PYTHONDONTWRITEBYTECODE
        "$VENV/bin/python" -m compileall -q -j 0 identity gs1 epcis edge server simulators \
            serialtrace tests benchmarks >/dev/null
        status=0
        # One worker more than the cores (3 on CI's 2 cores): most tests wait on brokers,
        # servers and browsers, and two workers kept the cores 63 % busy (10 min 49 s; three:
        # 9 min 24 s). A module's tests stay on one worker with its fixtures. Modules are
        # handed out with the most slow tests first (tests/conftest.py), not by xdist's number
        # of tests, which left the long modules of few tests to the end.
        # SERIALTRACE_TEST_WORKERS=N sets the number; 0 runs them in this process.
        workers="${SERIALTRACE_TEST_WORKERS:-$(($(nproc) + 1))}"
        "$VENV/bin/python" -m pytest -n "$workers" --dist loadfile \
            --no-loadscope-reorder "$@" \
            || status=$?
        elapsed=$((SECONDS - started))
        log "tests took $((elapsed / 60)) min $((elapsed % 60)) s; set-up, lint and tests $(((SECONDS - total_started) / 60)) min $(((SECONDS - total_started) % 60)) s (exit $status)"
        exit "$status"
        ;;
    lock)
        lock
        ;;
    *)
        echo "usage: bash quickstart.sh demo|test [ARGS...] | lock" >&2
        exit 2
        ;;
esac
