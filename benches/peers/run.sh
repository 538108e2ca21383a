#!/usr/bin/env bash
# Runs benches/peers/optuna_bench.py with the pinned Optuna (requirements.txt), which it installs
# into benches/peers/.venv the first time (PyPI via pip; about 30 s). The crate and its tests
# never need it. Examples (see benches/peers/README.md):
#   benches/peers/run.sh check
#   benches/peers/run.sh bench --space nb201 --seeds 100 --queries 50,100,150 --out results/peers/nb201-cifar10
#   benches/peers/run.sh mf check     # multi-fidelity peers (mf_bench.py; Optuna, DEHB, SMAC3
#   benches/peers/run.sh mf bench --seeds 100 --out results/peers/nb101-20k-mf   # in .venv-mf)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ "${1:-}" = mf ]; then
    # mf_bench.py needs DEHB, whose numpy<2 clashes with requirements.txt: its own environment,
    # pinned by requirements-mf.txt, made the first time (about a minute).
    shift
    venv="$here/.venv-mf"
    if ! "$venv/bin/python" -c "import optuna, dehb, smac" 2>/dev/null \
        || ! cmp -s "$here/requirements-mf.txt" "$venv/requirements-mf.txt"; then
        echo "installing requirements-mf.txt into $venv" >&2
        python3 -m venv "$venv"
        echo '*' > "$venv/.gitignore"
        "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements-mf.txt"
        cp "$here/requirements-mf.txt" "$venv/requirements-mf.txt"
    fi
    exec "$venv/bin/python" "$here/mf_bench.py" "$@"
fi
venv="$here/.venv"
want="$(grep '^optuna==' "$here/requirements.txt" | cut -d= -f3)"
if ! "$venv/bin/python" -c "import optuna, sys; sys.exit(optuna.__version__ != '$want')" 2>/dev/null; then
    echo "installing optuna $want into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
fi
exec "$venv/bin/python" "$here/optuna_bench.py" "$@"
