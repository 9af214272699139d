# Shared set-up for scripts/test.sh and scripts/demo.sh (sourced, not run): the virtualenv,
# the project's dependencies, and apt installs when something is missing.
# The caller defines stage() and die() and sets STAGE.

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

# ensure_venv EXTRAS: .venv with `pip install -e .[EXTRAS]`, redone when pyproject changes.
ensure_venv() {
    local extras="$1"
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

    stage "dependencies (pip install -e '.[${extras}]')"
    local stamp=".venv/.anbu-${extras}.sha256" want have
    want=$(sha256sum pyproject.toml | cut -d' ' -f1)
    have=$(cat "${stamp}" 2>/dev/null || true)
    if [[ "${want}" != "${have}" ]]; then
        .venv/bin/python -m pip install -q -e ".[${extras}]" || die "pip install -e '.[${extras}]' failed"
        echo "${want}" >"${stamp}"
        echo "installed"
    else
        echo "pyproject.toml unchanged since last install; skipping"
    fi
}
