#!/usr/bin/env bash
# Anbu's test command: sets up .venv and Mosquitto when missing, then runs
# ruff (lint + format check), mypy and pytest. Arguments are passed to pytest:
#   ./scripts/test.sh                 # everything
#   ./scripts/test.sh tests/infra -x  # a subset
# pytest runs with the machine's clock moved to a random instant (printed; replay it with
# ANBU_TEST_NOW=<instant>, or ANBU_TEST_NOW=off for the real clock): no test may depend on
# today's date or the hour in Korea.
# pytest runs in two parts: in parallel (ANBU_TEST_WORKERS, 3 unless set; 0 = one process),
# then the tests marked `serial` alone (see the pytest stage below).
# Exit status: pytest's (5, "no tests collected", counts as a failure), or 1 when an
# earlier stage fails.
set -euo pipefail

cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."

STAGE="start"
trap 'echo "test.sh: FAILED at stage: ${STAGE}" >&2' ERR

stage() {
    STAGE="$1"
    printf '\n==> %s\n' "$1"
}

die() {
    echo "test.sh: ${STAGE}: $*" >&2
    exit 1
}

# shellcheck source=scripts/lib.sh
source scripts/lib.sh
ensure_venv dev

# --- mosquitto --------------------------------------------------------------------------
stage "mosquitto"
find_mosquitto() {
    command -v mosquitto 2>/dev/null && return 0
    local p
    for p in /usr/sbin/mosquitto /usr/local/sbin/mosquitto; do
        if [[ -x "${p}" ]]; then
            echo "${p}"
            return 0
        fi
    done
    return 1
}
if ! MOSQUITTO=$(find_mosquitto); then
    echo "mosquitto not found; installing the Debian package"
    apt_install mosquitto
    MOSQUITTO=$(find_mosquitto) || die "mosquitto still missing after apt-get install"
fi
echo "using ${MOSQUITTO}"

# --- chromium (browser tests drive it through Playwright; its own download is not used) ----
stage "chromium"
if ! command -v chromium >/dev/null 2>&1; then
    echo "chromium not found; installing the Debian package"
    apt_install chromium
    command -v chromium >/dev/null 2>&1 || die "chromium still missing after apt-get install"
fi
echo "using $(command -v chromium)"
# Without a Korean font, Chromium draws the board's Hangul as empty boxes.
if ! fc-list :lang=ko 2>/dev/null | grep -q .; then
    echo "no Korean font found; installing fonts-noto-cjk"
    apt_install fonts-noto-cjk
fi

# pdftotext reads the text of the reports the browser prints to PDF (tests/web).
if ! command -v pdftotext >/dev/null 2>&1; then
    echo "pdftotext not found; installing poppler-utils"
    apt_install poppler-utils
fi

# --- axe-core (the browser tests' accessibility check; tests/web/axe/package-lock.json) ---
stage "axe-core"
if [ ! -f tests/web/axe/node_modules/axe-core/axe.min.js ]; then
    command -v npm >/dev/null 2>&1 || apt_install npm
    npm ci --prefix tests/web/axe --no-audit --no-fund || die "npm ci for axe-core failed"
fi
echo "using axe-core $(sed -n 's/.*"version": "\(.*\)".*/\1/p' tests/web/axe/node_modules/axe-core/package.json | head -1)"

# --- victoria-metrics (speaks the InfluxDB v2 write API; the telemetry tests' TSDB) ------
stage "victoria-metrics"
if ! command -v victoria-metrics >/dev/null 2>&1; then
    echo "victoria-metrics not found; installing the Debian package"
    apt_install victoria-metrics
    command -v victoria-metrics >/dev/null 2>&1 || die "victoria-metrics still missing after apt-get install"
fi
echo "using $(command -v victoria-metrics)"

# --- faketime (libfaketime: tests/hub/test_faketime.py runs a hub with its clock moved) --
stage "faketime"
if ! command -v faketime >/dev/null 2>&1; then
    echo "faketime not found; installing the Debian package"
    apt_install faketime
    command -v faketime >/dev/null 2>&1 || die "faketime still missing after apt-get install"
fi
echo "using $(command -v faketime)"

# --- test clock (every Python process of the run moved by one offset; see scripts/test_clock.py)
stage "test clock"
eval "$(.venv/bin/python scripts/test_clock.py)"
export ANBU_TEST_NOW
CLOCK_ENV=()
if [[ -n "${ANBU_TEST_OFFSET_S}" ]]; then
    CLOCK_ENV=(
        "ANBU_TEST_OFFSET_S=${ANBU_TEST_OFFSET_S}"
        "PYTHONPATH=${PWD}/tests/clockguard${PYTHONPATH:+:${PYTHONPATH}}"
    )
    echo "tests run at ${ANBU_TEST_NOW} (${ANBU_TEST_NOW_SAYS}); wall clock moved by ${ANBU_TEST_OFFSET_S} s"
    echo "replay this clock: ANBU_TEST_NOW=${ANBU_TEST_NOW} ./scripts/test.sh"
else
    echo "tests run on the machine's own clock (ANBU_TEST_NOW=off)"
fi

# --- lint -------------------------------------------------------------------------------
stage "ruff check"
.venv/bin/ruff check . || die "ruff check found problems (try: .venv/bin/ruff check --fix .)"

stage "ruff format --check"
.venv/bin/ruff format --check . || die "files need formatting (run: .venv/bin/ruff format .)"

# --- types ------------------------------------------------------------------------------
stage "mypy"
mypy_targets=()
for pkg in protocol alerts hub edge simulators; do
    if [[ -n $(find "${pkg}" -name '*.py' -print -quit 2>/dev/null) ]]; then
        mypy_targets+=("${pkg}")
    else
        echo "note: ${pkg}/ has no Python files yet; not type-checked"
    fi
done
if [[ ${#mypy_targets[@]} -gt 0 ]]; then
    .venv/bin/mypy "${mypy_targets[@]}" || die "mypy found type errors"
fi

# --- layers -----------------------------------------------------------------------------
stage "import contracts (lint-imports)"
.venv/bin/lint-imports --no-cache || die "an import crosses the layers ([tool.importlinter] in pyproject.toml)"

# --- tests ------------------------------------------------------------------------------
# Two parts. Most tests run in parallel (pytest-xdist, ANBU_TEST_WORKERS processes, 3 unless
# set: they mostly wait on brokers, databases and browsers, so three gain even on 2 CPUs); the
# tests marked `serial`, whose timing is part of what they check, then run alone, so no other
# test's load can fail them. ANBU_TEST_WORKERS=0 runs everything in one process.
WORKERS="${ANBU_TEST_WORKERS:-3}"
[[ "${WORKERS}" =~ ^[0-9]+$ ]] || die "ANBU_TEST_WORKERS must be a number (0 = no parallel part), not '${WORKERS}'"
trap - ERR
set +e
if [[ "${WORKERS}" == 0 ]]; then
    stage "pytest"
    env "${CLOCK_ENV[@]}" .venv/bin/python -m pytest "$@"
    rc=$?
else
    stage "pytest, parallel part (${WORKERS} workers)"
    env "${CLOCK_ENV[@]}" .venv/bin/python -m pytest -n "${WORKERS}" -m "not serial" "$@"
    parallel_rc=$?
    stage "pytest, serial part (timing-sensitive tests, alone)"
    env "${CLOCK_ENV[@]}" .venv/bin/python -m pytest -m serial "$@"
    serial_rc=$?
    # A part that collected nothing (5) is fine when the other ran tests: a subset given on
    # the command line may hold no serial test, or only serial ones.
    if [[ ${parallel_rc} == 5 ]]; then
        rc=${serial_rc}
    elif [[ ${serial_rc} == 5 || ${serial_rc} == 0 ]]; then
        rc=${parallel_rc}
    else
        rc=${serial_rc}
    fi
fi
set -e
case ${rc} in
    0) echo "test.sh: all stages passed" ;;
    5) echo "test.sh: pytest collected no tests; treating that as a failure" >&2 ;;
    *) echo "test.sh: pytest failed (exit ${rc})" >&2 ;;
esac
exit "${rc}"
