"""Ctrl-C (SIGINT) stops long calls with KeyboardInterrupt: a Predictor fit and an optimize
loop, each run in a child interpreter that the test interrupts."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

# POSIX signals: the wheels workflow runs this file on Windows too.
pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="needs POSIX signals (SIGINT to a child process)"
)

# A child started from a shell's background job inherits SIGINT ignored, and Python then
# installs no KeyboardInterrupt handler: each child restores Python's default first.
RESTORE_SIGINT = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\n"


def test_ctrl_c_interrupts_a_long_fit(tmp_path):
    """SIGINT during a fit raises KeyboardInterrupt within an epoch (signals are checked
    between epochs while the GIL is released)."""
    script = tmp_path / "fit.py"
    script.write_text(
        RESTORE_SIGINT + "import time, seminas\n"
        "from test_predictor import nb201_cells\n"
        "cells = nb201_cells()[:200]\n"
        "p = seminas.Predictor(seminas.NB201Space(), pretrain_epochs=100000)\n"
        "print('fitting', flush=True)\n"
        "t = time.perf_counter()\n"
        "try:\n"
        "    p.fit(cells, [float(i % 7) for i in range(200)], unlabeled=0)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted after', time.perf_counter() - t, 'fitted', p.fitted, flush=True)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parent))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout.readline().strip() == "fitting"
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "interrupted after" in out and "fitted False" in out, out


def test_ctrl_c_interrupts_optimize(tmp_path):
    """SIGINT during seminas.optimize raises KeyboardInterrupt in the caller (every ask and
    tell returns to Python, and a SemiNAS round releases the GIL)."""
    script = tmp_path / "opt.py"
    script.write_text(
        RESTORE_SIGINT + "import time, seminas\n"
        "table = seminas.benchmarks.nb201()\n"
        "def fn(arch):\n"
        "    time.sleep(0.01)\n"
        "    return table.query(arch)['objective']\n"
        "print('optimizing', flush=True)\n"
        "try:\n"
        "    seminas.optimize(seminas.NB201Space(), fn, budget=5000, algo='seminas')\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', flush=True)\n"
    )
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "optimizing"
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "interrupted" in out, out
