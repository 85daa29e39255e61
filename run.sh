#!/usr/bin/env bash
# The project's two entry points, each setting everything up first:
#   ./run.sh main   train GLAM on the built-in demo corpus and print the results table
#   ./run.sh test   run the linters and every test (cargo test + pytest)
# Setup is idempotent: the virtual environment in .venv is created once,
# torch is installed only when missing, and the Rust extension is rebuilt
# only when its sources changed.
set -euo pipefail
cd "$(dirname "$0")"

PY=.venv/bin/python

setup() {
    [ -x "$PY" ] || python3 -m venv .venv
    if ! "$PY" -c "import torch" 2>/dev/null; then
        echo "== installing torch (once; several GB) =="
        "$PY" -m pip install --progress-bar off torch
    fi
    "$PY" -c "import maturin" 2>/dev/null || "$PY" -m pip install -q maturin
    echo "== building the Rust extension and installing glam =="
    # maturin installs the runtime and test dependencies from pyproject.toml;
    # pip leaves the ones already satisfied (torch among them) alone.
    if ! (. .venv/bin/activate && maturin develop --release --extras test) >.venv/build.log 2>&1; then
        cat .venv/build.log
        echo "setup failed; the log above is also in .venv/build.log" >&2
        exit 1
    fi
}

case "${1:-}" in
    main)
        setup
        exec "$PY" -m glam_py.train "${@:2}"
        ;;
    test)
        setup
        echo "== linters: ruff, rustfmt, clippy =="
        "$PY" -m ruff check .
        "$PY" -m ruff format --check .
        cargo fmt --all --check
        cargo clippy --workspace --all-targets --all-features --quiet -- -D warnings
        echo "== cargo test =="
        cargo test --workspace --quiet
        echo "== pytest =="
        exec "$PY" -m pytest -q "${@:2}"
        ;;
    *)
        echo "usage: ./run.sh main | test" >&2
        exit 2
        ;;
esac
