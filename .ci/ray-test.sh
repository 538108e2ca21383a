#!/usr/bin/env bash
# Integration tests against a real Ray head that this script starts for the run.
#
#   .ci/ray-test.sh [COMMAND [ARGS...]]
#
# Builds the test targets listed in RAY_TEST_TARGETS (space-separated; default "ray_jobs cli"; ""
# for none) with the cargo features in RAY_TEST_FEATURES (default "trainer", as the README's test
# command builds them, so that after it nothing is compiled again; "" for the default build),
# then, inside new network and PID namespaces whose only interface is loopback, starts
# a Ray head (dashboard and Jobs API on http://127.0.0.1:8265), runs the ignored tests of those
# targets (except the slow reliability:: checks, which need no Ray), then COMMAND if one is
# given, and stops Ray. The tests and COMMAND see SEMINAS_RAY_ADDRESS (the head) and
# SEMINAS_RAY_PYTHON (the absolute path of the Python that runs Ray: job entrypoints get the
# PATH of the shell that started Ray, so use absolute paths).
#
# The namespaces matter: Ray binds non-loopback addresses even when told 127.0.0.1, and test
# traffic must stay on this machine. They also keep parallel runs from colliding on port 8265,
# and the PID namespace kills whatever Ray leaves behind when the script ends.
#
# Exits nonzero if a test or COMMAND failed. If Ray cannot be installed or started here, prints
# one line "RAY INTEGRATION TEST NOT RUN: <reason>" and exits 0.
set -uo pipefail

RAY_VERSION=2.60.0 # the release these tests were verified with; installed if Ray is missing
PORT=8265
NOT_RUN=75 # exit status of the inner half when Ray could not start

not_run() {
    echo "RAY INTEGRATION TEST NOT RUN: $*"
    exit 0
}

# --- inner half: runs as PID 1 of the new namespaces -----------------------------------------
if [[ "${1-}" == "--inside-namespaces" ]]; then
    shift
    inner_not_run() {
        echo "RAY INTEGRATION TEST NOT RUN: $*"
        exit "$NOT_RUN"
    }
    ip link set lo up || inner_not_run "cannot bring up loopback in the network namespace"
    tmp=$(mktemp -d /tmp/seminas-ray.XXXXXX) || inner_not_run "cannot create a temp dir"
    trap '"$RAY_BIN" stop >/dev/null 2>&1; rm -rf "$tmp"' EXIT

    echo "== starting a Ray head on 127.0.0.1:$PORT (temp dir $tmp)"
    if ! "$RAY_BIN" start --head --node-ip-address=127.0.0.1 --dashboard-host=127.0.0.1 \
        --dashboard-port="$PORT" --include-dashboard=true --num-cpus=2 \
        --object-store-memory=$((200 << 20)) --disable-usage-stats --temp-dir="$tmp" \
        >"$tmp/start.log" 2>&1; then
        tail -n 20 "$tmp/start.log"
        inner_not_run "ray start failed (log above)"
    fi
    version_url="http://127.0.0.1:$PORT/api/version"
    up=""
    while ((SECONDS < 90)); do
        if "$PY" -c "import urllib.request as u; u.urlopen('$version_url', timeout=2)" 2>/dev/null
        then
            up=1
            break
        fi
        sleep 0.5
    done
    [[ -n "$up" ]] ||
        inner_not_run "no answer from $version_url (is ray[default] installed?)"
    echo "== Ray head up after $SECONDS s"

    export SEMINAS_RAY_ADDRESS="http://127.0.0.1:$PORT" SEMINAS_RAY_PYTHON="$PY"
    rc=0
    if [[ -n "$TARGETS" ]]; then
        args=()
        [[ -n "$FEATURES" ]] && args+=(--features "$FEATURES")
        for t in $TARGETS; do args+=(--test "$t"); done
        # The slow ignored checks of the CLI tests (reliability::, minutes each) are not Ray's:
        # they run by hand (docs/reliability.md).
        skip=(--skip reliability::)
        echo "== cargo test --release --offline ${args[*]} -- --ignored --test-threads=1 ${skip[*]}"
        cargo test --release --offline "${args[@]}" -- --ignored --test-threads=1 "${skip[@]}" || rc=1
    fi
    if [[ $# -gt 0 ]]; then
        echo "== $*"
        "$@" || rc=1
    fi
    exit "$rc"
fi

# --- outer half: find or install Ray, build, enter the namespaces ---------------------------
cd "$(dirname "$0")/.." || exit 1
started=$SECONDS
TARGETS=${RAY_TEST_TARGETS-ray_jobs cli}
FEATURES=${RAY_TEST_FEATURES-trainer}

command -v python3 >/dev/null || not_run "python3 not found"
# Absolute paths: PATH shims (pyenv) are not needed inside the namespaces.
PY=$(python3 -c 'import sys; print(sys.executable)') || not_run "python3 does not run"
ray_ready() { "$PY" -c 'import ray, aiohttp, aiohttp_cors' 2>/dev/null; }
if ! ray_ready; then
    echo "== installing ray[default]==$RAY_VERSION"
    "$PY" -m pip install --quiet "ray[default]==$RAY_VERSION" >/tmp/seminas-pip-ray.log 2>&1 ||
        not_run "pip install ray[default]==$RAY_VERSION failed (see /tmp/seminas-pip-ray.log)"
    ray_ready || not_run "ray[default] installed but does not import"
fi
found=$("$PY" -c 'import ray; print(ray.__version__)')
[[ "$found" == "$RAY_VERSION" ]] ||
    echo "note: using the installed Ray $found (tests were verified with $RAY_VERSION)"
RAY_BIN="$(dirname "$PY")/ray"
if [[ ! -x "$RAY_BIN" ]]; then
    RAY_BIN=$(command -v ray) || not_run "the ray command is not installed next to $PY nor on PATH"
fi

command -v unshare >/dev/null || not_run "unshare not found (util-linux)"
command -v ip >/dev/null || not_run "ip not found (iproute2)"
probe=$(unshare --net --pid --fork --mount-proc true 2>&1) ||
    not_run "cannot create network and PID namespaces: $probe"

if [[ -n "$TARGETS" ]]; then
    # Built out here: the namespaces have no network for cargo.
    build_args=()
    [[ -n "$FEATURES" ]] && build_args+=(--features "$FEATURES")
    for t in $TARGETS; do build_args+=(--test "$t"); done
    echo "== cargo test --release --no-run ${build_args[*]}"
    cargo test --release --no-run "${build_args[@]}" || exit 1
fi

export PY RAY_BIN TARGETS FEATURES PORT NOT_RUN
unshare --net --pid --fork --mount-proc "$(pwd)/.ci/ray-test.sh" --inside-namespaces "$@"
rc=$?
echo "== Ray integration tests: $((SECONDS - started)) s in all, exit status $rc"
if [[ $rc -eq $NOT_RUN ]]; then
    exit 0 # the inner half printed the NOT RUN line
fi
exit "$rc"
