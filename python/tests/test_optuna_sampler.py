"""seminas.optuna.SemiNASSampler inside Optuna (run by .ci/run, which installs the pinned optuna;
skipped, saying so, where optuna cannot be imported)."""

import math
import os
import subprocess
import sys
import threading
import time

import pytest

optuna = pytest.importorskip(
    "optuna", reason="optuna is not installed: pip install optuna==5.0.0 to test SemiNASSampler"
)

import seminas  # noqa: E402
from seminas.optuna import SemiNASSampler  # noqa: E402
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution  # noqa: E402
from optuna.trial import TrialState, create_trial  # noqa: E402
from seminas_test_helpers import python_blocks  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)

OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
EDGES = [(j, i) for j in range(1, 4) for i in range(j)]
# The cell of the highest validation accuracy of the embedded NB201 table.
BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
ALGOS = ["random", "re", "nao", "seminas", "seminas-re", "seminas-ens"]
# Settings that make the controller-trained algorithms quick enough for a unit test.
QUICK = {"pretrain_epochs": 20, "controller_epochs": 20, "pseudo": 50}


def quick(algo):
    """QUICK's settings that `algo` uses (a setting it does not use is an error)."""
    uses = {"nao": ("pretrain_epochs", "controller_epochs"),
            "seminas": tuple(QUICK), "seminas-re": tuple(QUICK)}
    return {k: QUICK[k] for k in uses.get(algo, ())}


def cell(params):
    e = {(j, i): f"{params[f'edge_{j}_{i}']}~{i}" for j, i in EDGES}
    return f"|{e[1, 0]}|+|{e[2, 0]}|{e[2, 1]}|+|{e[3, 0]}|{e[3, 1]}|{e[3, 2]}|"


def nb201_objective(table):
    def objective(trial):
        params = {f"edge_{j}_{i}": trial.suggest_categorical(f"edge_{j}_{i}", OPS) for j, i in EDGES}
        return table.query(cell(params))["objective"]

    return objective


def grid_objective(trial):
    """4 positions x 5 choices (625 cells): the sum of the choices, largest at (4, 4, 4, 4)."""
    return float(sum(trial.suggest_categorical(f"x{k}", [0, 1, 2, 3, 4]) for k in range(4)))


def params_of(study, states=(TrialState.COMPLETE,)):
    return [tuple(sorted(t.params.items())) for t in study.trials if t.state in states]


def test_import_seminas_works_without_optuna():
    code = (
        "import sys; sys.modules['optuna'] = None\n"
        "import seminas\n"
        "try:\n    import seminas.optuna\nexcept ImportError:\n    print('no optuna')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "no optuna"


def test_is_an_optuna_sampler_and_rejects_bad_arguments():
    assert isinstance(SemiNASSampler(), optuna.samplers.BaseSampler)
    with pytest.raises(ValueError, match="unknown algorithm"):
        SemiNASSampler(algo="tpe")
    with pytest.raises(ValueError, match="unknown field"):
        SemiNASSampler(populaton=3)
    with pytest.raises(ValueError, match="seed"):
        SemiNASSampler(seed=-1)
    with pytest.raises(ValueError, match="fallback"):
        SemiNASSampler(fallback="random")
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=SemiNASSampler())
    with pytest.raises(ValueError, match="one objective"):
        study.optimize(lambda t: (t.suggest_int("a", 0, 3), 1.0), n_trials=2)


def test_relative_space_is_what_it_models_and_the_rest_goes_to_the_fallback():
    class Counting(optuna.samplers.RandomSampler):
        def __init__(self):
            super().__init__(seed=1)
            self.names = []

        def sample_independent(self, study, trial, name, dist):
            self.names.append(name)
            return super().sample_independent(study, trial, name, dist)

    fallback = Counting()
    sampler = SemiNASSampler(seed=0, fallback=fallback, n_startup_trials=2)
    study = optuna.create_study(sampler=sampler)

    def objective(trial):
        v = trial.suggest_categorical("op", ["a", "b", "c"])
        n = trial.suggest_int("layers", 1, 8)
        s = trial.suggest_float("drop", 0.0, 0.5, step=0.1)
        lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)  # continuous: the fallback's
        w = trial.suggest_int("width", 1, 1000)  # too many values: the fallback's
        if trial.number % 2:
            trial.suggest_categorical("sometimes", [1, 2])  # not in every trial: the fallback's
        return n + s + lr + w / 1000 + (v == "b")

    study.optimize(objective, n_trials=6)
    space = sampler.infer_relative_search_space(study, study.trials[-1])
    assert list(space) == ["drop", "layers", "op"]
    # The first trial has nothing to learn from: all its parameters come from the fallback.
    assert fallback.names[:5] == ["op", "layers", "drop", "lr", "width"]
    assert set(fallback.names[5:]) == {"lr", "width", "sometimes"}


def test_direction_is_respected():
    for direction, best in (("maximize", 16.0), ("minimize", 0.0)):
        study = optuna.create_study(direction=direction, sampler=SemiNASSampler(seed=3))
        study.optimize(grid_objective, n_trials=40)
        # Random search finds one given cell of 625 in 40 trials 6% of the time.
        assert study.best_value == best, direction
        assert len(set(params_of(study))) == 40, "no cell is evaluated twice"


def test_same_seed_same_trials_other_seed_other_trials():
    def run(seed):
        study = optuna.create_study(sampler=SemiNASSampler(seed=seed, n_startup_trials=5))
        study.optimize(grid_objective, n_trials=15)
        return params_of(study)

    assert run(7) == run(7)
    assert run(7) != run(8)


@pytest.mark.parametrize("algo", ALGOS)
def test_every_algorithm(algo):
    study = optuna.create_study(
        direction="maximize", sampler=SemiNASSampler(seed=0, algo=algo, n_startup_trials=5, **(
            quick(algo))),
    )
    study.optimize(grid_objective, n_trials=20)
    assert len(study.trials) == 20
    assert len(set(params_of(study))) == 20, "no cell is evaluated twice"


def test_failed_trials_are_ignored_pruned_and_running_ones_avoided():
    space = {f"x{k}": CategoricalDistribution([0, 1, 2, 3, 4]) for k in range(4)}
    sampler = SemiNASSampler(seed=0, n_startup_trials=3)

    def study_with(extra):
        study = optuna.create_study(direction="maximize", sampler=sampler)
        for k in range(6):
            params = {f"x{p}": (k + p) % 5 for p in range(4)}
            study.add_trial(create_trial(params=params, distributions=space, value=float(sum(params.values()))))
        for params, state in extra:
            study.add_trial(create_trial(params=params, distributions=space, state=state,
                                         value=None))
        return study

    def propose(study):
        frozen = create_trial(params={}, distributions={}, state=TrialState.RUNNING)
        frozen.number = 100  # the same trial number, whatever the study holds
        return sampler.sample_relative(study, frozen, sampler.infer_relative_search_space(study, frozen))

    plain = propose(study_with([]))
    assert set(plain) == set(space)
    # A failed trial is as if deleted (Optuna's own samplers ignore them)...
    assert propose(study_with([(plain, TrialState.FAIL)])) == plain
    # ...a pruned one, or one still running, is never proposed again.
    assert propose(study_with([(plain, TrialState.PRUNED)])) != plain
    assert propose(study_with([(plain, TrialState.RUNNING)])) != plain


def test_enqueued_trials_come_first():
    study = optuna.create_study(direction="maximize", sampler=SemiNASSampler(seed=0, n_startup_trials=2))
    study.enqueue_trial({"x0": 4, "x1": 4, "x2": 4, "x3": 0})
    study.optimize(grid_objective, n_trials=3)
    study.enqueue_trial({"x0": 1, "x1": 1, "x2": 1, "x3": 1})
    study.optimize(grid_objective, n_trials=12)
    assert study.trials[0].params == {"x0": 4, "x1": 4, "x2": 4, "x3": 0}
    assert study.trials[3].params == {"x0": 1, "x1": 1, "x2": 1, "x3": 1}
    assert len(set(params_of(study))) == 15


RESUME = """
import sys, optuna, seminas.optuna
optuna.logging.set_verbosity(optuna.logging.WARNING)
def objective(trial):
    return float(sum(trial.suggest_categorical(f"x{k}", [0, 1, 2, 3, 4]) for k in range(4)))
study = optuna.load_study(study_name="s", storage=sys.argv[1],
                          sampler=seminas.optuna.SemiNASSampler(seed=5, n_startup_trials=3))
study.optimize(objective, n_trials=int(sys.argv[2]))
"""


def test_sqlite_storage_resumed_in_a_new_process_gives_the_uninterrupted_trials(tmp_path):
    pytest.importorskip("sqlalchemy", reason="sqlalchemy (optuna's RDB storage) is not installed")
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    optuna.create_study(study_name="s", storage=storage)
    for n in (5, 4):  # two processes, one after the other (SQLite writes are slow)
        subprocess.run([sys.executable, "-c", RESUME, storage, str(n)], check=True)
    resumed = optuna.load_study(study_name="s", storage=storage)
    memory = optuna.create_study(sampler=SemiNASSampler(seed=5, n_startup_trials=3))
    memory.optimize(grid_objective, n_trials=9)
    assert params_of(resumed) == params_of(memory)


def test_parallel_jobs_share_nothing_and_never_repeat():
    seen = []
    lock = threading.Lock()

    def objective(trial):
        value = grid_objective(trial)
        time.sleep(0.01)  # trials overlap
        with lock:
            seen.append(threading.get_ident())
        return value

    study = optuna.create_study(direction="maximize", sampler=SemiNASSampler(seed=0, n_startup_trials=4))
    study.optimize(objective, n_trials=40, n_jobs=4)
    assert len(study.trials) == 40
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    assert len(set(seen)) > 1, "the trials ran in several threads"
    assert len(set(params_of(study))) == 40, "no two trials got the same cell"


def test_timeout_stops_the_study():
    study = optuna.create_study(sampler=SemiNASSampler(seed=0))
    t0 = time.perf_counter()
    study.optimize(grid_objective, timeout=1.0)
    assert time.perf_counter() - t0 < 10
    assert 0 < len(study.trials) <= 625


def test_a_search_space_that_changes_does_not_crash():
    def objective(trial):
        value = float(trial.suggest_categorical("a", [0, 1, 2]))
        if trial.number < 8:
            value += trial.suggest_categorical("b", ["x", "y"]) == "y"
        else:
            value += trial.suggest_int("c", 0, 3)
        if trial.number >= 14:
            value += trial.suggest_float("d", 0.0, 1.0)
        return value

    sampler = SemiNASSampler(seed=0, n_startup_trials=3, warn_independent_sampling=False)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(objective, n_trials=25)
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    assert list(sampler.infer_relative_search_space(study, study.trials[-1])) == ["a"]


def test_exhausted_space_falls_back_to_independent_sampling():
    study = optuna.create_study(sampler=SemiNASSampler(seed=0, n_startup_trials=1))
    study.optimize(lambda t: float(t.suggest_categorical("a", [0, 1, 2])), n_trials=5)
    assert len(study.trials) == 5
    assert sorted({t.params["a"] for t in study.trials[:3]}) == [0, 1, 2]


def test_on_nb201_at_least_as_good_as_seminas_search():
    """The 20-seed comparison is `python3 python/benches/optuna_sampler.py`; here seeds 1 and 2
    (seed 0 is the README example's)."""
    table = seminas.benchmarks.nb201()
    sampler_best, search_best = [], []
    for seed in (1, 2):
        study = optuna.create_study(direction="maximize", sampler=SemiNASSampler(seed=seed))
        study.optimize(nb201_objective(table), n_trials=100)
        sampler_best.append(study.best_value)
        search = seminas.optimize(seminas.NB201Space(), lambda a: table.query(a)["objective"],
                                  budget=100, algo="seminas-ens", seed=seed)
        search_best.append(search.best["objective"])
    assert sum(sampler_best) >= sum(search_best), (sampler_best, search_best)
    assert math.isclose(max(sampler_best), table.query(BEST)["objective"])


def test_the_readme_example_runs_as_shown():
    blocks = python_blocks()
    example = [b for b in blocks
               if "seminas.optuna.SemiNASSampler(seed=0)" in b and "Pruner" not in b]
    assert len(example) == 1, "the README and docs/ hold one SemiNASSampler example without a pruner"
    scope = {}
    exec(compile(example[0], "README.md or docs/", "exec"), scope)
    # Seed 0 finds the cell of the highest validation accuracy within its 100 trials.
    assert scope["study"].best_value == seminas.benchmarks.nb201().query(BEST)["objective"]


def test_a_space_too_large_to_list_is_sampled_and_still_learnt():
    # 7 positions x 6 choices = 279,936 cells (more than the proposer lists): the candidates
    # are random cells plus one-choice changes of the best ones.
    def objective(trial):
        return float(sum((k + 1) * trial.suggest_int(f"x{k}", 0, 5) for k in range(7)))

    study = optuna.create_study(direction="maximize", sampler=SemiNASSampler(seed=0, n_startup_trials=10))
    study.optimize(objective, n_trials=30)
    values = [t.value for t in study.trials]
    assert len(set(params_of(study))) == 30
    # Random cells average 70 (of 140); the predictor's choices are far better.
    assert sum(values[:10]) / 10 < 85
    assert sum(values[20:]) / 10 > 110, values


def test_a_new_sampler_at_every_trial_gives_the_same_trials():
    # Nothing the sampler keeps (its per-round answer, its reservations) changes what it
    # proposes: the trials of one sampler are those of a fresh one at every trial, as in a
    # study resumed after each trial. NB201 has SemiNAS-Ens rounds of 2 at a budget of 100.
    table = seminas.benchmarks.nb201()
    objective = nb201_objective(table)
    one = optuna.create_study(direction="maximize", sampler=SemiNASSampler(seed=4))
    one.optimize(objective, n_trials=24)
    fresh = optuna.create_study(direction="maximize")
    for _ in range(24):
        fresh.sampler = SemiNASSampler(seed=4)
        trial = fresh.ask()
        fresh.tell(trial, objective(trial))
    assert params_of(fresh) == params_of(one)


def test_optuna_dashboard_reads_a_study_the_sampler_ran(tmp_path):
    """optuna-dashboard (its WSGI app, as `optuna-dashboard sqlite:///...` serves it) lists the
    study and every trial with its parameters: the sampler keeps nothing outside the study."""
    dashboard = pytest.importorskip(
        "optuna_dashboard",
        reason="optuna-dashboard is not installed: pip install optuna-dashboard==0.21.0",
    )
    import json
    from wsgiref.util import setup_testing_defaults

    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(study_name="nb201", storage=storage, direction="maximize",
                                sampler=SemiNASSampler(seed=0))
    study.optimize(nb201_objective(seminas.benchmarks.nb201()), n_trials=15)
    app = dashboard.wsgi(storage)

    def get(path):
        env = {}
        setup_testing_defaults(env)
        env["PATH_INFO"], env["QUERY_STRING"] = path, "after=0"
        status = []
        body = b"".join(app(env, lambda s, h, exc=None: status.append(s)))
        assert status[0].startswith("200"), (path, status, body[:500])
        return json.loads(body)

    summaries = get("/api/studies")["study_summaries"]
    assert [s["study_name"] for s in summaries] == ["nb201"]
    detail = get(f"/api/studies/{summaries[0]['study_id']}")
    assert len(detail["trials"]) == 15
    shown = {t["number"]: {p["name"]: p["param_external_value"] for p in t["params"]}
             for t in detail["trials"]}
    for t in study.trials:
        assert shown[t.number] == t.params


def test_pruned_trials_are_learnt_and_never_proposed_again():
    # The proposer learns a pruned trial's last value as a training stopped early: for
    # SemiNAS-Ens a pruned architecture is fitted at the lowest complete value, which changes
    # what it proposes next compared with an architecture that is only avoided.
    p = seminas._seminas.Proposer([[str(c) for c in range(5)] for _ in range(4)], "seminas-ens", 50, "{}")
    complete = [([a, b, 0, 0], float(a + b)) for a in range(5) for b in range(5) if (a + b) % 3 == 0]
    pruned_archs = [[4, 4, c, d] for c in range(3) for d in range(3)]
    as_pruned = p.propose(1, False, complete, [], [], [(a, 5, 0.0) for a in pruned_archs])
    as_avoided = p.propose(1, False, complete, pruned_archs, [], [])
    assert as_pruned not in pruned_archs and as_avoided not in pruned_archs
    assert as_pruned != as_avoided

    # With Optuna's HyperbandPruner on NB201 (a learning curve rising to the table's value),
    # some trials are pruned and no cell is trained twice.
    table = seminas.benchmarks.nb201()

    def objective(trial):
        params = {f"edge_{j}_{i}": trial.suggest_categorical(f"edge_{j}_{i}", OPS) for j, i in EDGES}
        final = table.query(cell(params))["objective"]
        for epoch in range(1, 28):
            trial.report(final * (0.6 + 0.4 * epoch / 27), epoch)
            if epoch < 27 and trial.should_prune():
                raise optuna.TrialPruned()
        return final

    study = optuna.create_study(direction="maximize", sampler=SemiNASSampler(seed=0),
                                pruner=optuna.pruners.HyperbandPruner(min_resource=1, max_resource=27))
    study.optimize(objective, n_trials=60)
    states = [t.state for t in study.trials]
    assert TrialState.PRUNED in states and TrialState.COMPLETE in states
    every = params_of(study, states=(TrialState.COMPLETE, TrialState.PRUNED))
    assert len(every) == len(set(every)) == 60


def test_the_readme_pruner_example_runs_as_shown():
    blocks = python_blocks()
    example = [b for b in blocks if "HyperbandPruner" in b]
    assert len(example) == 1, "the README and docs/ hold one Optuna example with a pruner"
    scope = {}
    exec(compile(example[0], "README.md or docs/", "exec"), scope)
    states = [t.state for t in scope["study"].trials]
    assert TrialState.PRUNED in states and TrialState.COMPLETE in states
