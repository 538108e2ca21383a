"""The Python package against the CLI and the library's rules (run by .ci/run)."""

import json
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

import seminas
from seminas_test_helpers import python_blocks, untimed

REPO = Path(__file__).resolve().parents[2]
# The cell of the highest validation accuracy (index 6111 of the benchmark).
BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
CIFAR100_BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
IMAGENET_BEST_TEST = "|nor_conv_1x1~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def seminas_cli():
    """The CLI binary: $SEMINAS_BIN, else the release build of this checkout."""
    path = Path(os.environ.get("SEMINAS_BIN", REPO / "target" / "release" / "seminas"))
    if not path.is_file():
        pytest.skip(f"the seminas binary is not built ({path}); run `cargo build --release`")
    return str(path)


def cli_queries(tmp_path, *args):
    out = tmp_path / "cli"
    subprocess.run([seminas_cli(), "search", "--out", str(out), *args], check=True,
                   capture_output=True)
    with open(out / "queries.jsonl") as f:
        return [(q["arch"], q["objective"]) for q in map(json.loads, f)]


def table_loop(study, table, order=None, workers=1):
    """Evaluates on the NB201 table; with `order`, `workers` trials finish in random order."""
    out = []
    while True:
        while len(out) < workers or order is None:
            trial = study.ask()
            if trial is None:
                break
            out.append(trial)
            if order is None:
                break
        if not out:
            return
        trial = out.pop(order.randrange(len(out)) if order else 0)
        study.tell(trial, table.query(trial.arch)["objective"])


@pytest.mark.parametrize("algo", ["seminas", "re"])
def test_an_ask_tell_loop_gives_the_queries_of_seminas_search(tmp_path, algo):
    want = cli_queries(tmp_path, "--algo", algo, "--queries", "30", "--seed", "3")
    study = seminas.Study(seminas.NB201Space(), algo=algo, budget=30, seed=3)
    table_loop(study, seminas.benchmarks.nb201())
    got = [(t["arch"], t["objective"]) for t in study.trials]
    assert got == want
    assert study.status == "finished:budget"


def test_three_workers_telling_out_of_order_give_the_cli_with_workers_3(tmp_path):
    want = cli_queries(tmp_path, "--algo", "seminas", "--queries", "30", "--seed", "5",
                       "--workers", "3")
    study = seminas.Study(seminas.NB201Space(), algo="seminas", budget=30, seed=5, workers=3)
    table_loop(study, seminas.benchmarks.nb201(), order=random.Random(2), workers=3)
    assert [(t["arch"], t["objective"]) for t in study.trials] == want


def test_optimize_with_threads_equals_the_cli(tmp_path):
    want = cli_queries(tmp_path, "--algo", "re", "--queries", "25", "--seed", "1",
                       "--workers", "4")
    table = seminas.benchmarks.nb201()
    study = seminas.optimize(seminas.NB201Space(), lambda a: table.query(a)["objective"],
                             budget=25, workers=4, algo="re", seed=1)
    assert [(t["arch"], t["objective"]) for t in study.trials] == want


def test_the_table_and_the_best_cell():
    table = seminas.benchmarks.nb201()
    assert len(table) == 15625
    row = table.query(BEST)
    assert row["report"] == 94.3733 and row["index"] == 6111


def test_trials_carry_origin_prediction_and_timing_as_queries_jsonl():
    table = seminas.benchmarks.nb201()
    study = seminas.Study(seminas.NB201Space(), budget=30, seed=3)
    study.enqueue(BEST)
    table_loop(study, table)
    rows = study.trials
    assert rows[0]["origin"] == "enqueued" and rows[0]["key"] == BEST
    assert rows[1]["origin"] == "initial" and "predicted" not in rows[1]
    scored = [r for r in rows if r["origin"].endswith("scored")]
    assert scored and all(isinstance(r["predicted"], float) for r in scored)
    for r in rows:
        assert r["started"] <= r["finished"]


def test_the_other_data_sets_and_their_optima():
    """NAS-Bench-201's CIFAR-100 optimum (index 9930, valid 73.4933, test 73.5133) and
    ImageNet16-120's best test cell (index 857, 47.3111), as the benchmark publishes them."""
    c100 = seminas.benchmarks.nb201("cifar100")
    assert len(c100) == 15625
    best = c100.query(CIFAR100_BEST)
    assert (best["objective"], best["report"], best["index"]) == (73.4933, 73.5133, 9930)
    im = seminas.benchmarks.nb201("imagenet16-120")
    row = im.query(IMAGENET_BEST_TEST)
    assert (row["report"], row["index"]) == (47.3111, 857)
    with pytest.raises(ValueError, match="imagenet16-120"):
        seminas.benchmarks.nb201("imagenet")


def test_bad_inputs_raise():
    space = seminas.NB201Space()
    with pytest.raises(ValueError, match="nor_conv_9x9"):
        space.validate(BEST.replace("nor_conv_3x3~0|+", "nor_conv_9x9~0|+", 1))
    with pytest.raises(ValueError):
        space.validate({"not": "a cell"})
    with pytest.raises(ValueError):
        seminas.Study(space, algo="nope")
    with pytest.raises(ValueError):
        seminas.Study(space, budget=10, population=3, tournaments=2)  # unknown setting
    cat = seminas.CategoricalSpace({"depth": [2, 3, 4], "op": ["conv", "skip"]})
    with pytest.raises(ValueError, match="depth"):
        cat.validate({"op": "conv"})
    with pytest.raises(ValueError, match="unknown position"):
        cat.validate({"depth": 2, "op": "conv", "width": 1})
    with pytest.raises(ValueError, match="unknown choice"):
        cat.validate({"depth": 5, "op": "conv"})
    with pytest.raises(ValueError):
        seminas.CategoricalSpace({"a": [1, "1"]})
    study = seminas.Study(space, algo="random", budget=5, seed=0)
    trial = study.ask()
    with pytest.raises(ValueError, match="finite"):
        study.tell(trial, float("nan"))
    with pytest.raises(ValueError):
        study.tell(trial, "high")
    study.tell(trial, 1.0)
    with pytest.raises(ValueError, match="told already"):
        study.tell(trial, 2.0)
    with pytest.raises(ValueError, match="no trial 99"):
        study.tell(99, 1.0)


def test_categorical_spaces_take_numeric_choices_from_dicts_and_toml(tmp_path):
    toml = tmp_path / "space.toml"
    toml.write_text('name = "toy"\n[[position]]\nname = "depth"\nchoices = [2, 3, 4]\n'
                    '[[position]]\nname = "lr"\nchoices = [0.1, 0.01]\n'
                    '[[position]]\nname = "op"\nchoices = ["conv", "skip"]\n')
    for space in (seminas.CategoricalSpace.from_toml(str(toml)),
                  seminas.CategoricalSpace({"depth": [2, 3, 4], "lr": [0.1, 0.01], "op": ["conv", "skip"]})):
        assert space.positions["depth"] == [2, 3, 4]
        study = seminas.Study(space, algo="random", budget=12, seed=0)
        seen = []
        while (t := study.ask()) is not None:
            assert isinstance(t.arch["depth"], int) and isinstance(t.arch["lr"], float)
            seen.append(t.arch)
            study.tell(t, t.arch["depth"] * t.arch["lr"])
        # Random search without replacement covers the whole space of 12.
        assert len({json.dumps(a, sort_keys=True) for a in seen}) == 12
        assert study.best["arch"] == {"depth": 4, "lr": 0.1, "op": study.best["arch"]["op"]}


@pytest.mark.filterwarnings("ignore:.*is random search")
def test_minimize_enqueue_warm_start_and_extend(tmp_path):
    table = seminas.benchmarks.nb201()
    space = seminas.NB201Space()
    study = seminas.Study(space, algo="re", budget=30, seed=2, direction="minimize")
    study.enqueue(BEST)
    first = study.ask()
    assert first.arch == BEST
    study.tell(first, 100 - table.query(first.arch)["objective"])
    table_loop(study, type("Err", (), {"query": lambda self, a: {"objective": 100 - table.query(a)["objective"]}})())
    errors = [t["objective"] for t in study.trials]
    assert study.best["objective"] == min(errors)
    assert study.best["arch"] == BEST  # the best cell of the table
    # Extend a finished study.
    assert study.status == "finished:budget"
    study.extend(10)
    table_loop(study, type("Err", (), {"query": lambda self, a: {"objective": 100 - table.query(a)["objective"]}})())
    assert len(study.trials) == 40
    # Warm start from the CLI's queries.jsonl: the algorithm learns them, and they are free.
    cli_dir = tmp_path / "warm"
    subprocess.run([seminas_cli(), "search", "--algo", "random", "--queries", "20",
                    "--out", str(cli_dir)], check=True, capture_output=True)
    warm = seminas.Study(space, algo="re", budget=5, seed=0)
    warm.warm_start(str(cli_dir / "queries.jsonl"))
    known = [json.loads(line)["arch"] for line in open(cli_dir / "queries.jsonl")]
    while (t := warm.ask()) is not None:
        # A full population from the warm start: evolution mutates its members at once.
        assert t.arch not in known
        assert any(sum(a != b for a, b in zip(k.split("|"), t.arch.split("|"))) == 1 for k in known)
        warm.tell(t, table.query(t.arch)["objective"])


def test_a_stored_study_reopens_where_it_stopped(tmp_path):
    table = seminas.benchmarks.nb201()
    reference = seminas.Study(seminas.NB201Space(), algo="seminas", budget=20, seed=4)
    table_loop(reference, table)
    store = str(tmp_path / "run")
    told = []
    for _ in range(10):
        study = seminas.Study(seminas.NB201Space(), algo="seminas", budget=20, seed=4, storage=store)
        for _ in range(6):  # then "killed"
            t = study.ask()
            if t is None:
                break
            told.append(t.arch)
            study.tell(t, table.query(t.arch)["objective"])
        if study.status.startswith("finished"):
            break
        del study
    assert len(told) == len(set(told)) == 20
    assert untimed(study.trials) == untimed(reference.trials)
    # The store is locked while its study lives; reopened with other settings, it refuses.
    with pytest.raises(RuntimeError, match="in use by another seminas process"):
        seminas.Study(seminas.NB201Space(), algo="seminas", budget=20, seed=4, storage=store)
    del study
    with pytest.raises(RuntimeError, match="stored study"):
        seminas.Study(seminas.NB201Space(), algo="re", budget=20, seed=4, storage=store)


@pytest.mark.parametrize("repeat", [False, True])
def test_a_reopened_study_keeps_its_enqueued_and_warm_start_inputs(tmp_path, repeat):
    """enqueue and warm_start are stored with the study: reopening needs no repeat, and a
    repeat (what reopening needed before) is not applied twice."""
    table = seminas.benchmarks.nb201()
    space = seminas.NB201Space()
    ops = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]

    def cell(i):
        o = [ops[(i // 5**k) % 5] for k in range(6)]
        return f"|{o[0]}~0|+|{o[1]}~0|{o[2]}~1|+|{o[3]}~0|{o[4]}~1|{o[5]}~2|"

    warm = [(cell(i), table.query(cell(i))["objective"]) for i in (5005, 9050, 12500)]

    def feed(study):
        study.enqueue(cell(7777))
        study.warm_start(warm)
        study.enqueue(cell(9999))

    reference = seminas.Study(space, algo="re", budget=20, seed=4)
    feed(reference)
    table_loop(reference, table)
    store = str(tmp_path / "run")
    study = seminas.Study(space, algo="re", budget=20, seed=4, storage=store)
    feed(study)
    for _ in range(6):
        t = study.ask()
        study.tell(t, table.query(t.arch)["objective"])
    del study
    study = seminas.Study(space, algo="re", budget=20, seed=4, storage=store)
    if repeat:
        feed(study)
    table_loop(study, table)
    assert untimed(study.trials) == untimed(reference.trials)
    assert [r["origin"] for r in study.trials[:2]] == ["enqueued", "enqueued"]


# A budget of 12 is RE's and SemiNAS-RE's random start (population 10 and 20): they warn.
@pytest.mark.filterwarnings("ignore:.*is random search")
def test_every_listed_algorithm_runs_and_the_default_is_the_clis(tmp_path):
    """ALGORITHMS names what Study accepts; the default algorithm is the CLI's default
    (SemiNAS-Ens), so a default Python loop gives the queries of a default `seminas search`."""
    table = seminas.benchmarks.nb201()
    assert "seminas-ens" in seminas.ALGORITHMS
    for algo in seminas.ALGORITHMS:
        quick = {"pretrain_epochs": 2, "controller_epochs": 2}
        settings = quick if algo in ("nao", "seminas", "seminas-re") else {}
        study = seminas.Study(seminas.NB201Space(), algo=algo, budget=12, seed=0, **settings)
        table_loop(study, table)
        assert len(study.trials) == 12 and study.status == "finished:budget", algo
    want = cli_queries(tmp_path, "--queries", "30", "--seed", "2")
    study = seminas.optimize(seminas.NB201Space(), lambda a: table.query(a)["objective"],
                             budget=30, seed=2)
    assert [(t["arch"], t["objective"]) for t in study.trials] == want


def test_a_budget_spent_on_the_random_start_warns_as_the_cli_does():
    # SemiNAS starts with 10 random cells for a budget of 10: random search. The warning
    # names the Python setting (init=), and points at the caller's line.
    with pytest.warns(UserWarning, match=r"random search: .*use a smaller init=") as caught:
        seminas.Study(seminas.NB201Space(), algo="seminas", budget=10, seed=0)
    assert caught[0].filename == __file__
    with pytest.warns(UserWarning, match=r"population="):
        seminas.Study(seminas.NB201Space(), algo="re", budget=10, seed=0)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        seminas.Study(seminas.NB201Space(), algo="seminas", budget=11, seed=0)
        seminas.Study(seminas.NB201Space(), algo="seminas-ens", budget=10, seed=0)


def _fidelity_table(tmp_path):
    """The NB201 table with a 12-epoch column (the objective shrunk and shuffled a little by
    a hash of the cell) and a cost: a table with two fidelities."""
    import itertools

    table = seminas.benchmarks.nb201()
    ops = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
    rows = []
    for i, e in enumerate(itertools.product(ops, repeat=6)):
        arch = f"|{e[0]}~0|+|{e[1]}~0|{e[2]}~1|+|{e[3]}~0|{e[4]}~1|{e[5]}~2|"
        r = table.query(arch)
        low = round(r["objective"] * 0.8 + ((i * 7919) % 1000) / 200.0, 4)
        rows.append((arch, low, r["objective"], r["report"], 100.0 + (i % 7)))
    path = tmp_path / "fid.csv"
    with open(path, "w") as f:
        f.write("arch,v12,v200,test,cost\n")
        for arch, low, high, rep, cost in rows:
            f.write(f"{arch},{low},{high},{rep},{cost}\n")
    return path, {a: (lo, hi, rep, c) for a, lo, hi, rep, c in rows}


def test_reported_steps_are_pruned_as_seminas_search_prunes_a_table(tmp_path):
    path, rows = _fidelity_table(tmp_path)
    out = tmp_path / "cli"
    subprocess.run([seminas_cli(), "search", "--space", "nb201", "--table", str(path),
                    "--fidelity", "12=v12", "--fidelity", "200=v200", "--report", "test",
                    "--cost", "cost", "--prune", "asha", "--algo", "re", "--queries", "40",
                    "--seed", "1", "--out", str(out)], check=True, capture_output=True)
    with open(out / "queries.jsonl") as f:
        want = [(q["arch"], q["objective"], q.get("stopped_at")) for q in map(json.loads, f)]
    study = seminas.Study(seminas.NB201Space(), algo="re", budget=40, seed=1,
                          fidelities=[12, 200], prune="asha")
    while (trial := study.ask()) is not None:
        low, high, rep, cost = rows[trial.arch]
        if trial.report(12, low, cost_seconds=cost * 12 / 200):
            assert trial.should_prune()
            study.tell_pruned(trial)
            continue
        assert not trial.report(200, high, cost_seconds=cost)
        study.tell(trial, high, report=rep, cost_seconds=cost)
    got = [(t["arch"], t["objective"], t.get("stopped_at")) for t in study.trials]
    assert got == want
    pruned = [t for t in study.trials if t["state"] == "pruned"]
    assert pruned and all(t["stopped_at"] == 12 and "report" not in t for t in pruned)
    assert study.best["state"] == "complete"
    assert abs(sum(t["cost_seconds"] for t in study.trials)
               - sum(rows[t["arch"]][3] * (12 / 200 if t["state"] == "pruned" else 1)
                     for t in study.trials)) < 1e-6


def test_optimize_with_a_function_that_reports_steps(tmp_path):
    _, rows = _fidelity_table(tmp_path)
    seen = []

    def train(arch, trial):
        low, high, _, _ = rows[arch]
        for step, value in ((12, low), (200, high)):
            if trial.report(step, value, cost_seconds=step / 200):
                seen.append(step)
                raise seminas.TrialPruned()
        return high

    study = seminas.optimize(seminas.NB201Space(), train, algo="random", seed=2,
                             fidelities=[12, 200], prune="median", budget_seconds=10.0)
    states = [t["state"] for t in study.trials]
    assert "pruned" in states and "complete" in states
    assert len(seen) == states.count("pruned") and set(seen) == {12}
    # The budget in training time: it stops once 10 s of costs are told.
    costs = [t["cost_seconds"] for t in study.trials]
    assert sum(costs) >= 10.0 and sum(costs[:-1]) < 10.0
    with pytest.raises(ValueError, match="needs the steps"):
        seminas.Study(seminas.NB201Space(), prune="asha")
    with pytest.raises(ValueError, match="unknown pruner"):
        seminas.Study(seminas.NB201Space(), max_step=10, prune="bohb")


def test_the_readme_study_with_a_pruner_runs_as_shown():
    blocks = python_blocks()
    example = [b for b in blocks if 'prune="hyperband"' in b]
    assert len(example) == 1, "the README and docs/ hold one Study example with a pruner"
    scope = {"seminas": seminas}
    exec(compile(example[0], "README.md or docs/", "exec"), scope)
    assert scope["study"].status == "finished:budget"
    assert len(scope["study"].trials) == 50


def test_the_readme_front_page_example_runs_as_shown(tmp_path, monkeypatch):
    """The README's Python example (a stored study on the table) finds the best cell."""
    example = [b for b in python_blocks() if 'storage="runs/py"' in b]
    assert len(example) == 1, "the README holds one front-page Study example"
    monkeypatch.chdir(tmp_path)
    scope = {}
    exec(compile(example[0], "README.md", "exec"), scope)
    assert scope["study"].best["key"] == BEST and (tmp_path / "runs" / "py").is_dir()
