"""A study process SIGKILLed at random moments and reopened loses and repeats nothing."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

import seminas
from seminas_test_helpers import untimed

SCRIPT = r"""
import json, sys, time, seminas
store, journal = sys.argv[1], sys.argv[2]
table = seminas.benchmarks.nb201()
study = seminas.Study(seminas.NB201Space(), algo="seminas", budget=25, seed=7, storage=store)
# The objective function's own journal: a trial evaluated before a kill is not evaluated again.
try:
    done = {}
    for line in open(journal):
        if line.endswith("\n"):
            r = json.loads(line)
            done[r["number"]] = r["value"]
except FileNotFoundError:
    done = {}
while (t := study.ask()) is not None:
    if t.number not in done:
        time.sleep(0.05)  # a training that takes time: the kills land mid-study, not after it
        done[t.number] = table.query(t.arch)["objective"]
        with open(journal, "a") as f:
            f.write(json.dumps({"number": t.number, "arch": t.arch, "value": done[t.number]}) + "\n")
    study.tell(t, done[t.number])
print(json.dumps(study.trials))
"""

# POSIX signals: the wheels workflow runs this file on Windows too.
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX signals (SIGKILL)")


def lines(path):
    try:
        with open(path) as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


def test_a_killed_study_process_loses_and_repeats_nothing(tmp_path):
    store, journal = str(tmp_path / "run"), str(tmp_path / "journal.jsonl")
    rng = random.Random(0)
    kills = 0
    # Five processes killed at a random moment once they made progress, then one that ends.
    for _ in range(5):
        before = lines(journal)
        p = subprocess.Popen([sys.executable, "-c", SCRIPT, store, journal],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while lines(journal) == before and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.3))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            kills += 1
        p.communicate()
    p = subprocess.run([sys.executable, "-c", SCRIPT, store, journal], capture_output=True,
                       timeout=600)
    assert p.returncode == 0, p.stderr.decode()
    trials = json.loads(p.stdout)
    assert len(trials) == 25
    reference = seminas.Study(seminas.NB201Space(), algo="seminas", budget=25, seed=7)
    table = seminas.benchmarks.nb201()
    while (t := reference.ask()) is not None:
        reference.tell(t, table.query(t.arch)["objective"])
    assert untimed(trials) == untimed(reference.trials)
    # Every trial was evaluated exactly once, kills or not.
    evaluated = [json.loads(line)["number"] for line in open(journal) if line.endswith("\n")]
    assert sorted(evaluated) == sorted(t["number"] for t in trials)
    assert kills >= 1
    print(f"{kills} kill(s)")
