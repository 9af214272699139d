#!/usr/bin/env bash
# Anbu's test command: sets up .venv and Mosquitto when missing, then runs
# ruff (lint + format check), mypy and pytest. Arguments are passed to pytest:
#   ./scripts/test.sh                 # everything
#   ./scripts/test.sh tests/infra -x  # a subset
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

export PIP_DISABLE_PIP_VERSION_CHECK=1
export DEBIAN_FRONTEND=noninteractive

APT_UPDATED=0
apt_install() {
    local runner=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || die "need root (or sudo) to apt-get install $*"
        runner=(sudo -E)
    fi
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install by hand: $*"
    if [[ ${APT_UPDATED} -eq 0 ]]; then
        "${runner[@]}" apt-get update -q || die "apt-get update failed"
        APT_UPDATED=1
    fi
    "${runner[@]}" apt-get install -y -q "$@" || die "apt-get install $* failed"
}

python_ok() {  # python_ok CMD: CMD exists and is Python >= 3.11
    command -v "$1" >/dev/null 2>&1 &&
        "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null
}

find_python() {
    local candidate
    for candidate in python3.11 python3; do
        if python_ok "${candidate}"; then
            echo "${candidate}"
            return 0
        fi
    done
    return 1
}

# --- virtualenv -------------------------------------------------------------------------
stage "virtualenv (.venv)"
if ! python_ok .venv/bin/python; then
    if ! PY=$(find_python); then
        echo "no python3.11 or python3 >= 3.11 found; installing python3 from apt"
        apt_install python3 python3-venv
        PY=$(find_python) || die "no Python >= 3.11 available (need python3.11 or newer)"
    fi
    echo "creating .venv with $(${PY} --version 2>&1)"
    if ! "${PY}" -m venv .venv; then
        # Debian ships ensurepip separately (python3-venv / python3.X-venv).
        echo "venv creation failed; installing the Debian venv package"
        pyver=$("${PY}" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
        apt_install python3-venv "python${pyver}-venv"
        rm -rf .venv
        "${PY}" -m venv .venv || die "could not create .venv"
    fi
else
    echo ".venv present ($(.venv/bin/python --version 2>&1))"
fi

# --- dependencies -----------------------------------------------------------------------
stage "dependencies (pip install -e '.[dev]')"
STAMP=.venv/.anbu-pyproject.sha256
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
have=$(cat "${STAMP}" 2>/dev/null || true)
if [[ "${want}" != "${have}" ]]; then
    .venv/bin/python -m pip install -q -e '.[dev]' || die "pip install -e '.[dev]' failed"
    echo "${want}" >"${STAMP}"
    echo "installed"
else
    echo "pyproject.toml unchanged since last install; skipping"
fi

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

# --- tests ------------------------------------------------------------------------------
stage "pytest"
trap - ERR
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
case ${rc} in
    0) echo "test.sh: all stages passed" ;;
    5) echo "test.sh: pytest collected no tests; treating that as a failure" >&2 ;;
    *) echo "test.sh: pytest failed (exit ${rc})" >&2 ;;
esac
exit "${rc}"
