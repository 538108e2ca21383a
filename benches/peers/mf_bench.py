#!/usr/bin/env python3
"""Multi-fidelity peers at equal training time: the embedded NAS-Bench-101 sample, or a user's table.

Run it through `benches/peers/run.sh mf ...` (which makes `benches/peers/.venv-mf` with the pins
of `requirements-mf.txt`: Optuna, DEHB, SMAC3); see benches/peers/README.md, "Multi-fidelity".
It writes the files of `seminas bench --out DIR` in "trainings" units (runs.csv, curves.csv,
table.json) and peers.json.

The protocol (seminas's own multi-fidelity bench counts the same way):
- the space and key are those of optuna_bench.py's nb101-20k (21 upper-triangle edge bits and 5
  interior operations; key = module hash of the pruned cell); a cell that is not valid or not in
  the table costs nothing (Optuna: told PRUNED without intermediate values);
- fidelities 4, 12, 36, 108 epochs, the value at step e is `val_acc_{e}ep`; objective and
  reported value are `val_acc_108ep`;
- a training stopped at step e costs `train_time_108ep_s * e / 108` seconds; a trial is one
  training that reports at 4, 12, 36, 108 in order and may be stopped after any report but the
  last; it costs the cost of the last step it reached; a trial that reaches 108 is COMPLETE;
- the unit of budget is one "full training", the mean 108-epoch time of the 20,001 rows
  (1924.4174066296662 s); a run starts trials while its cumulative cost is below the largest
  budget; budget B's result is the best COMPLETE trial (largest val_acc_108ep, earliest among
  equals) among the trials whose cumulative cost at their end is at most B trainings;
- a repeated key is free and answered from a cache (a COMPLETE trial's value; a pruned one
  re-reports its cached values up to the step it reached and is told PRUNED);
- 1,000,000 free proposals in a row stop the run ("stalled");
- DEHB and SMAC evaluate a configuration at a fidelity as its own call: an evaluation at b of a
  key already trained to b' < b costs cost(b) - cost(b') (as if a checkpoint were kept), at
  b <= b' it is free; the key is COMPLETE once evaluated at 108; they minimise 1 - val_acc_b
  (1.0 for a cell not in the table, at no cost).
With `--nearest`, a proposal that is not a cell of the table is answered by the table's cell
nearest to it (fewest differing parameters: 21 edge bits and 5 operations for nb101-20k, its
rows as their 7-vertex `seq`; a user's table's positions; ties to the earliest row), so every
proposal is a training: the peers search the table's cells, as seminas's algorithms do (the
peer still learns from the parameters it proposed). A proposal that is a cell of the table
under another encoding (an isomorphic graph) is that cell, as without `--nearest`.
A user's table (`--space FILE.toml --table FILE.csv --fidelity STEP=COL[,COST_COL] ... --cost COL
--report COL`, the flags of `seminas bench`) is run the same way with its own steps: the largest
step's column is the objective, a step without a cost column of its own costs step / max step of
the --cost column, the unit is the --cost column's mean, the reported value is --report's (the
best COMPLETE trial is chosen by the objective), and a configuration not in the table is free.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import optuna_bench as ob  # noqa: E402  (the NB101 encoding, pruning, validity and hash)

REPO = ob.REPO
STEPS = (4, 12, 36, 108)
UNIT = 1924.4174066296662  # mean train_time_108ep_s over the 20,001 rows
PEERS = ["tpe-full", "tpe-hyperband", "tpe-percentile", "tpe-median", "dehb", "smac",
         "random-full"]


def peer_text(peer, lo, hi):
    """What a peer is, with the table's smallest and largest step."""
    return {
        "tpe-full": "optuna TPESampler(seed=seed), no pruning",
        "tpe-hyperband": f"optuna TPESampler(seed=seed) + HyperbandPruner(min_resource={lo}, "
                         f"max_resource={hi}, reduction_factor=3)",
        "tpe-percentile": "optuna TPESampler(seed=seed) + PercentilePruner(75.0, "
                          "n_startup_trials=5, n_warmup_steps=0)",
        "tpe-median": "optuna TPESampler(seed=seed) + MedianPruner() (defaults)",
        "dehb": f"DEHB(cs, min_fidelity={lo}, max_fidelity={hi}, eta=3, n_workers=1, "
                "seed=seed), defaults otherwise, ask/tell",
        "smac": f"smac MultiFidelityFacade(Scenario(cs, deterministic=True, min_budget={lo}, "
                f"max_budget={hi}, n_trials=1000000, seed=seed), intensifier=Hyperband(eta=3)), "
                "defaults otherwise, ask/tell",
        "random-full": "optuna RandomSampler(seed=seed), no pruning",
    }.get(peer, peer)


# ---------------------------------------------------------------------------------------------
# The table


class Nearest:
    """`--nearest`: a configuration outside the table is answered by the table's nearest cell."""

    nearest = False
    _codes = None

    def key_of(self, params):
        """The key a configuration (a dict of parameters) is trained as; None: no cell."""
        return self.resolve(self.params_key(params), params)

    def resolve(self, key, params):
        """`key` (the configuration's own cell, or None), or with `--nearest` the table's cell
        nearest to `params` when its own is not in the table."""
        if self.nearest and (key is None or key not in self.mf):
            return self.nearest_key(params)
        return key

    def nearest_key(self, params):
        import numpy as np

        if self._codes is None:
            # Each parameter's values as small integers, the table's rows as a matrix.
            self._names = list(self.rows[0][1])
            self._values = [{} for _ in self._names]
            codes = [[self._values[i].setdefault(str(r[n]), len(self._values[i]))
                      for i, n in enumerate(self._names)] for _, r in self.rows]
            self._codes = np.array(codes, dtype=np.int16)
        x = np.array([self._values[i].get(str(params[n]), -1)
                      for i, n in enumerate(self._names)], dtype=np.int16)
        # argmin returns the first of equals: ties go to the earliest row.
        return self.rows[int(np.argmin((self._codes != x).sum(axis=1)))][0]


def seq_params(seq, where):
    """A row's 7-vertex `seq` (seminas's 27 tokens: for vertex j = 1..6 its j edge tokens, 1 or
    2, then its operation, 3 conv1x1, 4 conv3x3, 5 maxpool, 6 output) as the 26 parameters."""
    ops = {"3": "conv1x1-bn-relu", "4": "conv3x3-bn-relu", "5": "maxpool3x3"}
    if len(seq) != 27:
        sys.exit(f"{where}: seq {seq!r} is not 27 tokens")
    params, off = {}, 0
    for j in range(1, 7):
        for i in range(j):
            params[f"e_{i}_{j}"] = int(seq[off + i] == "2")
        if j < 6:
            params[f"op_{j}"] = ops[seq[off + j]]
        off += j + 1
    return params


class Nb101Mf(Nearest, ob.Nb101_20k):
    """nb101-20k with its four fidelities and 108-epoch training time."""

    steps = STEPS
    settings = {"space": "nb101-20k"}

    def __init__(self, table_path=REPO / "data" / "nb101_20k.csv.gz"):
        rows = ob.read_csv_text(table_path)
        table, self.mf = {}, {}
        for k, row in enumerate(rows):
            where = f"{table_path}:{k + 2}"
            vals = tuple(ob.metric(row, f"val_acc_{e}ep", where) for e in STEPS)
            t = ob.metric(row, "train_time_108ep_s", where)
            table[row["hash"]] = (vals[-1], vals[-1])
            self.mf[row["hash"]] = (vals, t)
        ob.Problem.__init__(self, "nb101-20k", ob.NB101_OBJECTIVE, ob.NB101_OBJECTIVE, table)
        self.worst = self.sorted_reports[0]
        self.unit = sum(t for _, t in self.mf.values()) / len(self.mf)
        assert abs(self.unit - UNIT) < 1e-9, self.unit
        self.rows = [(row["hash"], seq_params(row["seq"], f"{table_path}:{k + 2}"))
                     for k, row in enumerate(rows)]

    def cost(self, key, step):
        return self.mf[key][1] * step / 108

    def value(self, key, step):
        return self.mf[key][0][STEPS.index(step)]

    def report_of(self, key):
        return self.mf[key][0][-1]

    def whole_cost(self, key):
        return self.mf[key][1]

    def params_key(self, params):
        """The key of a configuration given as a dict of the 26 parameters (None: no cell)."""
        m = [[0] * 7 for _ in range(7)]
        for i in range(7):
            for j in range(i + 1, 7):
                m[i][j] = int(params[f"e_{i}_{j}"])
        ops = ["input"] + [params[f"op_{v}"] for v in range(1, 6)] + ["output"]
        return ob.nb101_key(m, ops)


    def config_space(self, seed):
        """The same 26 categorical parameters as a ConfigSpace space (for DEHB and SMAC)."""
        from ConfigSpace import CategoricalHyperparameter, ConfigurationSpace

        cs = ConfigurationSpace(seed=seed)
        hps = [CategoricalHyperparameter(f"e_{i}_{j}", [0, 1]) for i in range(7)
               for j in range(i + 1, 7)]
        hps += [CategoricalHyperparameter(f"op_{v}", ob.NB101_OPS) for v in range(1, 6)]
        cs.add(hps)
        return cs


class TableMf(Nearest, ob.Categorical):
    """A user's categorical space (TOML) and table (CSV) with fidelity and cost columns, read
    as `seminas bench --space FILE.toml --table FILE.csv --fidelity ... --cost COL` reads them."""

    def __init__(self, space_path, table_path, fidelities, cost, report):
        name = self.read_space(space_path)
        fids = sorted((parse_fidelity(f) for f in fidelities), key=lambda f: f[0])
        if not fids:
            sys.exit("a table needs at least one --fidelity STEP=COL (the largest: the objective)")
        if len({f[0] for f in fids}) < len(fids):
            sys.exit("--fidelity: a step is given twice")
        self.steps = tuple(f[0] for f in fids)
        # As given (relative to where the bench runs), as `seminas bench` records them.
        self.settings = {"space": str(space_path), "table": str(table_path),
                         "fidelities": [list(f) for f in fids], "cost": cost, "report": report}
        table, self.mf, self.rows = {}, {}, []
        for k, row in enumerate(ob.read_csv_text(table_path)):
            where = f"{table_path}:{k + 2}"
            key = self.row_key(row, where)
            if key in table:
                sys.exit(f"{where}: the architecture {key} is in the table twice")
            vals = tuple(ob.metric(row, col, where) for _, col, _ in fids)
            whole = ob.metric(row, cost, where)
            own = tuple(None if c is None else ob.metric(row, c, where) for _, _, c in fids)
            if whole < 0 or any(c is not None and c < 0 for c in own):
                sys.exit(f"{where}: a cost is negative")
            table[key] = (vals[-1], ob.metric(row, report, where))
            self.mf[key] = (vals, whole, own)
            self.rows.append((key, {p: row[p].strip() for p, _ in self.positions}))
        ob.Problem.__init__(self, name, fids[-1][1], report, table)
        self.worst = self.sorted_reports[0]
        self.unit = sum(m[1] for m in self.mf.values()) / len(self.mf)

    def cost(self, key, step):
        vals, whole, own = self.mf[key]
        i = self.steps.index(step)
        return own[i] if own[i] is not None else whole * step / self.steps[-1]

    def value(self, key, step):
        return self.mf[key][0][self.steps.index(step)]

    def report_of(self, key):
        return self.table[key][1]

    def whole_cost(self, key):
        return self.cost(key, self.steps[-1])

    def params_key(self, params):
        return ",".join(f"{p}={params[p]}" for p, _ in self.positions)

    def config_space(self, seed):
        from ConfigSpace import CategoricalHyperparameter, ConfigurationSpace

        cs = ConfigurationSpace(seed=seed)
        cs.add([CategoricalHyperparameter(p, c) for p, c in self.positions])
        return cs


def parse_fidelity(text):
    """`STEP=COL[,COST_COL]` -> (step, col, cost col or None), as `seminas --fidelity` reads it."""
    step, eq, cols = text.partition("=")
    col, _, cost = cols.partition(",")
    try:
        step = int(step)
    except ValueError:
        step = 0
    if not eq or step < 1 or not col:
        sys.exit(f"--fidelity {text!r}: expected STEP=COLUMN[,COST_COLUMN] (e.g. 12=val_acc_12ep)")
    return (step, col.strip(), cost.strip() or None)


def make_problem(args):
    """nb101-20k (the default) or the user's table the arguments name."""
    if not args.space or args.space == "nb101-20k":
        if args.table or args.fidelity or args.cost or args.report:
            sys.exit("nb101-20k is embedded: --table, --fidelity, --cost and --report do not apply")
        return with_nearest(Nb101Mf(), args.nearest)
    if not (args.space.endswith(".toml") and args.table and args.fidelity and args.cost
            and args.report):
        sys.exit("a user's table needs --space FILE.toml --table FILE.csv --fidelity STEP=COL "
                 "(repeat; the largest step is the objective) --cost COL --report COL")
    return with_nearest(TableMf(args.space, args.table, args.fidelity, args.cost, args.report),
                        args.nearest)


def with_nearest(problem, nearest):
    if nearest:
        problem.nearest = True
        # Recorded only when on: directories of the first protocol keep their settings.
        problem.settings = dict(problem.settings, outside="nearest")
    return problem


def problem_of(settings):
    """The problem a bench directory's settings name (for merge)."""
    nearest = settings.get("outside") == "nearest"
    if settings.get("space", "nb101-20k") == "nb101-20k":
        return with_nearest(Nb101Mf(), nearest)
    return with_nearest(
        TableMf(settings["space"], settings["table"],
                [f"{s}={c}" + (f",{k}" if k else "") for s, c, k in settings["fidelities"]],
                settings["cost"], settings["report"]), nearest)


# ---------------------------------------------------------------------------------------------
# The ledger: costed events in order, and what each budget sees


class Ledger:
    max_seconds = None  # --max-seconds: stop a study after this much wall time

    def __init__(self, problem):
        self.p = problem
        self.started = time.perf_counter()
        self.cpu_started = time.process_time()
        self.cum = 0.0
        self.events = []  # (cum seconds after, cost, new key, complete value or None, wall s, key)
        self.free_in_a_row = 0
        self.proposals = 0

    def over_time(self):
        return self.max_seconds is not None and \
            time.perf_counter() - self.started > self.max_seconds

    def free(self):
        self.proposals += 1
        self.free_in_a_row += 1

    def charge(self, key, cost, new, complete_value):
        self.proposals += 1
        self.free_in_a_row = 0
        self.cum += cost
        self.events.append((self.cum, cost, new, complete_value,
                            time.perf_counter() - self.started, key))

    def study(self, algo, seed, budgets, stop):
        """The journal record of one finished study: a row per budget and the curve."""
        p, unit = self.p, self.p.unit
        rows, curve, best = [], [], None
        for cum, _, _, v, _, key in self.events:
            if v is not None and (best is None or v > best[0]):
                best = (v, key)
                # The reported value of the best by objective, as `seminas bench` draws it.
                curve.append([cum / unit, p.report_of(key)])
        for b in sorted(budgets):
            if self.cum < b * unit:
                continue  # stopped (--max-seconds) before this budget was spent
            within = [e for e in self.events if e[0] <= b * unit]
            best = None
            for cum, _, _, v, _, key in within:
                if v is not None and (best is None or v > best[0]):
                    best = (v, key)
            if best is None:
                key, obj, rep, regret, rank = "", math.nan, math.nan, p.optimum - p.worst, \
                    len(p.sorted_reports) + 1
            else:
                obj, key = best
                rep = p.report_of(key)
                regret, rank = p.optimum - rep, p.rank(rep)
            rows.append({
                "algo": algo, "budget": b, "seed": seed,
                "queries": sum(1 for e in within if e[2]),
                "best_key": key, "objective": obj, "report": rep, "regret": regret,
                "rank": rank, "hit": int(rank == 1),
                "seconds": within[-1][4] if within else 0.0,
                "unit": "trainings",
                "cost": sum(e[1] for e in within),
                "complete": sum(1 for e in within if e[3] is not None),
            })
        return {
            "algo": algo, "seed": seed, "rows": rows, "curve": curve, "stop": stop,
            "proposals": self.proposals,
            "trials_started": sum(1 for e in self.events if e[2]),
            "complete": sum(1 for e in self.events if e[3] is not None),
            "total_trainings": self.cum / unit,
            "budgets_reached": [b for b in sorted(budgets) if self.cum >= b * unit],
            "wall_seconds": time.perf_counter() - self.started,
            "cpu_seconds": time.process_time() - self.cpu_started,
        }


# ---------------------------------------------------------------------------------------------
# Optuna peers


def optuna_parts(peer, seed, lo, hi):
    import optuna

    sampler = (optuna.samplers.RandomSampler(seed=seed) if peer == "random-full"
               else optuna.samplers.TPESampler(seed=seed))
    pruner = {
        "tpe-full": optuna.pruners.NopPruner(),
        "random-full": optuna.pruners.NopPruner(),
        "tpe-hyperband": optuna.pruners.HyperbandPruner(min_resource=lo, max_resource=hi,
                                                        reduction_factor=3),
        "tpe-percentile": optuna.pruners.PercentilePruner(75.0, n_startup_trials=5,
                                                          n_warmup_steps=0),
        "tpe-median": optuna.pruners.MedianPruner(),
    }[peer]
    return sampler, pruner, not peer.endswith("-full")


def run_optuna(problem, peer, seed, budgets, checks):
    import optuna
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    steps, top = problem.steps, problem.steps[-1]
    sampler, pruner, prunes = optuna_parts(peer, seed, steps[0], top)
    led = Ledger(problem)
    # A fixed name: HyperbandPruner assigns brackets by a checksum of the study's name, which
    # is otherwise a fresh UUID (a run that did not repeat with its seed).
    study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner,
                                study_name=f"{peer}-seed-{seed}")
    limit = max(budgets) * problem.unit
    cache = {}  # key -> None (not evaluable) | (values reported, step reached)
    stop = "budget"
    while led.cum < limit:
        if led.free_in_a_row >= ob.MAX_FREE_PROPOSALS:
            stop = "stalled"
            break
        if led.over_time():
            stop = "time limit"
            break
        trial = study.ask()
        key = problem.resolve(problem.suggest(trial), trial.params)
        if key in cache:
            led.free()
            c = cache[key]
            if c is None:
                study.tell(trial, state=TrialState.PRUNED)
            elif c[1] == top:
                study.tell(trial, c[0][-1])
            else:
                for step, v in zip(steps, c[0]):
                    trial.report(v, step)
                study.tell(trial, state=TrialState.PRUNED)
            continue
        if key is None or key not in problem.mf:
            cache[key] = None
            led.free()
            study.tell(trial, state=TrialState.PRUNED)
            continue
        reported = []
        for step in steps:
            v = problem.value(key, step)
            trial.report(v, step)
            reported.append(v)
            # No should_prune() after the last report: a trial that reached the top is COMPLETE.
            if prunes and step < top and trial.should_prune():
                break
        reached = steps[len(reported) - 1]
        cache[key] = (reported, reached)
        if reached == top:
            study.tell(trial, reported[-1])
        else:
            study.tell(trial, state=TrialState.PRUNED)
        led.charge(key, problem.cost(key, reached), True, reported[-1] if reached == top else None)
    if checks:
        check_optuna_study(problem, peer, study, led)
    return led.study(peer, seed, budgets, stop)


def check_optuna_study(problem, peer, study, led):
    """Protocol checks on one finished Optuna study (the smoke run's assertions)."""
    from optuna.trial import TrialState

    top = problem.steps[-1]
    trials = study.get_trials(deepcopy=False)
    if problem.nearest:  # nothing refused: a trial without reports is a repeat of a whole one
        assert all(t.intermediate_values or t.state == TrialState.COMPLETE for t in trials)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    first = {}
    for t in trials:  # the first trial of each trained key carries the cost
        if t.intermediate_values:
            key = problem.key_of(t.params)
            first.setdefault(key, t)
    cost = sum(problem.cost(k, t.last_step) for k, t in first.items())
    assert abs(cost - led.cum) < 1e-6 * max(1.0, led.cum), (peer, cost, led.cum)
    n_complete_keys = sum(1 for t in first.values() if t.last_step == top)
    assert n_complete_keys == sum(1 for e in led.events if e[3] is not None)
    for t in complete:  # a trained one reached the top; a repeat is told the cached value alone
        if t.intermediate_values:
            assert t.last_step == top and t.value == t.intermediate_values[top]
        else:
            assert t.value == problem.mf[problem.key_of(t.params)][0][-1]
    if peer.endswith("-full") or len(problem.steps) == 1:
        assert all(t.last_step == top for t in first.values())
        whole = sum(problem.whole_cost(k) for k in first)
        assert abs(whole - led.cum) < 1e-6 * led.cum, (whole, led.cum)
    else:
        pruned = sum(1 for t in first.values() if t.last_step < top)
        assert pruned > 0, f"{peer} pruned no training"


# ---------------------------------------------------------------------------------------------
# DEHB and SMAC: one call per (configuration, fidelity), charged as a continued training


class Continued:
    """The cost rule for optimisers that call a configuration at a fidelity: continue from the
    fidelity the key was trained to, free at or below it."""

    def __init__(self, problem, led):
        self.p, self.led = problem, led
        self.trained = {}  # key -> highest step trained
        self.fidelities_seen = set()

    def evaluate(self, params, fidelity):
        b = int(round(float(fidelity)))
        assert abs(float(fidelity) - b) < 1e-6 and b in self.p.steps, f"fidelity {fidelity!r}"
        self.fidelities_seen.add(b)
        key = self.p.key_of(params)
        if key is None or key not in self.p.mf:
            self.led.free()
            return 1.0, 0.0
        v = self.p.value(key, b)
        before = self.trained.get(key, 0)
        if b <= before:
            self.led.free()
            return 1.0 - v, 0.0
        cost = self.p.cost(key, b) - (self.p.cost(key, before) if before else 0.0)
        self.trained[key] = b
        self.led.charge(key, cost, before == 0, v if b == self.p.steps[-1] else None)
        return 1.0 - v, cost


def run_dehb(problem, peer, seed, budgets, checks):
    from dehb import DEHB

    led = Ledger(problem)
    ev = Continued(problem, led)
    tmp = tempfile.mkdtemp(prefix="mf-dehb-")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            steps = problem.steps
            opt = DEHB(cs=problem.config_space(seed), min_fidelity=steps[0],
                       max_fidelity=steps[-1], eta=3, n_workers=1, seed=seed, output_path=tmp,
                       save_freq="end", log_level="ERROR")
            fids = sorted(float(f) for f in opt.fidelities)
            if len(fids) != len(steps) or any(abs(f - s) > 1e-6 for f, s in zip(fids, steps)):
                sys.exit(f"DEHB's fidelities {fids} (eta 3 from {steps[0]} to {steps[-1]}) are "
                         f"not the table's steps {list(steps)}: use the Optuna peers")
            limit = max(budgets) * problem.unit
            stop = "budget"
            while led.cum < limit:
                if led.free_in_a_row >= ob.MAX_FREE_PROPOSALS:
                    stop = "stalled"
                    break
                if led.over_time():
                    stop = "time limit"
                    break
                job = opt.ask()
                fitness, cost = ev.evaluate(dict(job["config"]), job["fidelity"])
                opt.tell(job, {"fitness": fitness, "cost": cost})
                # What DEHB.run() does after each result; without it the finished brackets pile
                # up and every ask() walks them all.
                opt._clean_inactive_brackets()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if checks:
        check_continued(problem, peer, ev, led)
    return led.study(peer, seed, budgets, stop)


def run_smac(problem, peer, seed, budgets, checks):
    import logging

    from smac import MultiFidelityFacade, Scenario
    from smac.runhistory.dataclasses import TrialValue

    led = Ledger(problem)
    ev = Continued(problem, led)
    tmp = tempfile.mkdtemp(prefix="mf-smac-")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scenario = Scenario(problem.config_space(seed), deterministic=True,
                                min_budget=problem.steps[0], max_budget=problem.steps[-1],
                                n_trials=ob.MAX_FREE_PROPOSALS, seed=seed,
                                output_directory=Path(tmp) / "smac")
            intensifier = MultiFidelityFacade.get_intensifier(scenario, eta=3)
            opt = MultiFidelityFacade(scenario, lambda config, seed=0, budget=None: 0.0,
                                      intensifier=intensifier, overwrite=True,
                                      logging_level=logging.ERROR)
            limit = max(budgets) * problem.unit
            stop = "budget"
            while led.cum < limit:
                if led.free_in_a_row >= ob.MAX_FREE_PROPOSALS:
                    stop = "stalled"
                    break
                if led.over_time():
                    stop = "time limit"
                    break
                info = opt.ask()
                fitness, cost = ev.evaluate(dict(info.config), info.budget)
                opt.tell(info, TrialValue(cost=fitness, time=cost), save=False)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if checks:
        check_continued(problem, peer, ev, led)
    return led.study(peer, seed, budgets, stop)


def check_continued(problem, peer, ev, led):
    assert ev.fidelities_seen <= set(problem.steps), ev.fidelities_seen
    cost = sum(problem.cost(k, b) for k, b in ev.trained.items())
    assert abs(cost - led.cum) < 1e-6 * max(1.0, led.cum), (peer, cost, led.cum)
    assert sum(1 for b in ev.trained.values() if b == problem.steps[-1]) == \
        sum(1 for e in led.events if e[3] is not None)


def run_study(problem, peer, seed, budgets, checks=False):
    if peer == "dehb":
        return run_dehb(problem, peer, seed, budgets, checks)
    if peer == "smac":
        return run_smac(problem, peer, seed, budgets, checks)
    return run_optuna(problem, peer, seed, budgets, checks)


# ---------------------------------------------------------------------------------------------
# Output


RUNS_HEADER = ("algo,budget,seed,queries,best_key,objective,report,regret,rank,hit,seconds,"
               "curve,unit,cost,complete")


def curve_text(curve, budget):
    return " ".join(f"{c:.4f}:{ob.fmt(v)}" for c, v in curve if c <= budget + 1e-12)


def runs_csv(studies, order):
    lines = [RUNS_HEADER]
    rows = [(r, s) for s in studies for r in s["rows"]]
    rows.sort(key=lambda x: (order.index(x[0]["algo"]), x[0]["budget"], x[0]["seed"]))
    for r, s in rows:
        key = r["best_key"].replace('"', '""')
        lines.append(
            f'{r["algo"]},{r["budget"]},{r["seed"]},{r["queries"]},"{key}",{ob.fmt(r["objective"])},'
            f'{ob.fmt(r["report"])},{ob.fmt(r["regret"])},{r["rank"]},{r["hit"]},'
            f'{ob.fmt(r["seconds"])},"{curve_text(s["curve"], r["budget"])}",trainings,'
            f'{ob.fmt(r["cost"])},{r["complete"]}')
    return "\n".join(lines) + "\n"


def finite_mean_std(v):
    return ob.mean_std([x for x in v if math.isfinite(x)])


def summarize(studies, order, budgets):
    rows, curve_lines = [], []
    for a in order:
        ss = sorted((s for s in studies if s["algo"] == a), key=lambda s: s["seed"])
        if not ss:
            continue
        for b in budgets:
            rs = [r for s in ss for r in s["rows"] if r["budget"] == b]
            if not rs:
                continue
            m, sd = finite_mean_std([r["report"] for r in rs])
            rows.append({
                "algo": a, "queries": b, "seeds": len(rs), "mean_report": m, "std_report": sd,
                "mean_regret": ob.mean_std([r["regret"] for r in rs])[0],
                "mean_rank": ob.mean_std([float(r["rank"]) for r in rs])[0],
                "hit_rate": ob.mean_std([float(r["hit"]) for r in rs])[0],
                "mean_seconds": ob.mean_std([r["seconds"] for r in rs])[0],
            })
        top = max(budgets)
        for k in range(1, 2 * top + 1):
            x = k / 2
            vals = []
            for s in ss:
                if s["total_trainings"] < x:
                    continue  # a study stopped by --max-seconds before this point
                best = None
                for c, v in s["curve"]:
                    if c <= x + 1e-12:
                        best = v
                if best is not None:
                    vals.append(best)
            if not vals:
                continue  # no seed has a complete trial here (or got this far)
            m, sd = ob.mean_std(vals)
            err = sd / math.sqrt(len(vals)) if len(vals) > 1 else 0.0
            curve_lines.append(f"{a},{ob.fmt(x)},{ob.fmt(m)},{ob.fmt(err)}\n")
    return rows, curve_lines


def extra_stats(studies, order, budgets, problem):
    """Per peer and budget: mean trials started and complete (the report's extra columns)."""
    out = {}
    for a in order:
        ss = [s for s in studies if s["algo"] == a]
        if not ss:
            continue
        per = {}
        for b in budgets:
            rs = [r for s in ss for r in s["rows"] if r["budget"] == b]
            if not rs:
                continue
            per[str(b)] = {
                "mean_trials_started": sum(r["queries"] for r in rs) / len(rs),
                "mean_complete": sum(r["complete"] for r in rs) / len(rs),
                "mean_cost_trainings": sum(r["cost"] for r in rs) / len(rs) / problem.unit,
                "runs_without_complete": sum(1 for r in rs if not r["best_key"]),
            }
        out[a] = {
            "runs": len(ss),
            "seeds": sorted(s["seed"] for s in ss),
            "mean_proposals": sum(s["proposals"] for s in ss) / len(ss),
            "mean_trials_started": sum(s["trials_started"] for s in ss) / len(ss),
            "mean_complete": sum(s["complete"] for s in ss) / len(ss),
            "mean_total_trainings": sum(s["total_trainings"] for s in ss) / len(ss),
            "mean_wall_seconds": sum(s["wall_seconds"] for s in ss) / len(ss),
            "mean_cpu_seconds": sum(s["cpu_seconds"] for s in ss) / len(ss),
            "runs_stalled": sum(1 for s in ss if s["stop"] == "stalled"),
            "runs_stopped_by_time_limit": sum(1 for s in ss if s["stop"] == "time limit"),
            "trainings_reached_by_time_limited_runs": [round(s["total_trainings"], 3) for s in ss
                                                       if s["stop"] == "time limit"],
            "per_budget": per,
            "peer": peer_text(a, problem.steps[0], problem.steps[-1]),
        }
    return out


def versions():
    from importlib import metadata

    v = {"python": sys.version.split()[0]}
    for name in ("optuna", "dehb", "ConfigSpace", "smac", "numpy", "scikit-learn"):
        try:
            v[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            v[name] = None
    return v


def write_all(out, studies, order, budgets, problem, info):
    out.mkdir(parents=True, exist_ok=True)
    rows, curve_lines = summarize(studies, order, budgets)
    ob.write_atomic(out / "runs.csv", runs_csv(studies, order))
    ob.write_atomic(out / "curves.csv", "algo,trainings,mean_report,stderr\n" + "".join(curve_lines))
    table = {"space": problem.name, "objective": problem.objective_name,
             "report": problem.report_name, "optimum": problem.optimum, "unit": "trainings",
             "training_seconds": problem.unit, "rows": rows}
    ob.write_atomic(out / "table.json", json.dumps(table, indent=2) + "\n")
    extra = extra_stats(studies, order, budgets, problem)
    info = dict(info, versions=versions(), peers=extra)
    ob.write_atomic(out / "peers.json", json.dumps(info, indent=2) + "\n")
    return rows, extra


def table_text(rows, extra):
    out = [f"{'peer':<15} {'budget':>6} {'seeds':>5} {'mean report':>11} {'sd':>7} "
           f"{'regret':>8} {'hit':>5} {'started':>8} {'complete':>8} {'s/run':>7}"]
    for r in rows:
        e = extra[r["algo"]]["per_budget"][str(r["queries"])]
        out.append(f"{r['algo']:<15} {r['queries']:>6} {r['seeds']:>5} {r['mean_report']:>11.5f} "
                   f"{r['std_report']:>7.5f} {r['mean_regret']:>8.5f} {r['hit_rate']:>5.2f} "
                   f"{e['mean_trials_started']:>8.1f} {e['mean_complete']:>8.1f} "
                   f"{r['mean_seconds']:>7.1f}")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------
# Commands


_PROBLEM = None


def _init(problem):
    global _PROBLEM
    _PROBLEM = problem


def _work(job):
    peer, seed, budgets, checks = job
    return run_study(_PROBLEM, peer, seed, budgets, checks)


def read_journal(path):
    lines = path.read_text().splitlines(keepends=True) if path.exists() else []
    lines = [l for l in lines if l.endswith("\n")]
    if not lines:
        return None, {}
    done = {}
    for l in lines[1:]:
        s = json.loads(l)
        done[(s["algo"], s["seed"])] = s
    return json.loads(lines[0]), done


def cmd_bench(args):
    problem = make_problem(args)
    peers = list(dict.fromkeys(args.peers.split(",")))
    bad = [p for p in peers if p not in PEERS]
    if bad:
        sys.exit(f"unknown peer(s) {bad}: {','.join(PEERS)}")
    budgets = sorted(set(int(b) for b in args.budgets.split(",")))
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    # Seed-major order: stopped at any moment, every peer has about as many seeds.
    jobs = [(p, s, budgets, args.check) for s in seeds for p in peers]
    Ledger.max_seconds = args.max_seconds
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "studies.jsonl"
    settings = dict(problem.settings, budgets=budgets, unit=problem.unit,
                    protocol="mf-equal-training-time-v1")
    old, done = read_journal(path)
    if old is not None and old != settings:
        sys.exit(f"{path} holds studies of other settings: remove it or use another --out")
    ob.write_atomic(path, json.dumps(settings) + "\n" + "".join(
        json.dumps(s) + "\n" for s in done.values()))
    todo = [j for j in jobs if (j[0], j[1]) not in done]
    studies = [done[(j[0], j[1])] for j in jobs if (j[0], j[1]) in done]
    if len(todo) < len(jobs):
        print(f"resuming: {len(jobs) - len(todo)} of {len(jobs)} studies were finished before",
              file=sys.stderr)
    started = time.perf_counter()
    journal = path.open("a")

    def finished(s, k):
        studies.append(s)
        journal.write(json.dumps(s) + "\n")
        journal.flush()
        print(f"mf bench: {k}/{len(todo)} {s['algo']} seed {s['seed']}: "
              f"{s['trials_started']} trainings started, {s['complete']} complete, "
              f"{s['proposals']} proposals, {s['total_trainings']:.2f} trainings, "
              f"{s['wall_seconds']:.1f} s, {s['stop']}, best "
              f"{ob.fmt(s['rows'][-1]['report']) if s['rows'] else '-'} "
              f"({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)

    if args.jobs > 1:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(args.jobs, initializer=_init,
                                          initargs=(problem,)) as pool:
            for k, s in enumerate(pool.imap_unordered(_work, todo)):
                finished(s, k + 1)
    else:
        _init(problem)
        for k, job in enumerate(todo):
            finished(_work(job), k + 1)
    journal.close()
    order = [p for p in PEERS if p in peers]
    info = {"command": " ".join(sys.argv), "jobs": args.jobs, "checks": args.check,
            "max_seconds_per_study": args.max_seconds,
            "wall_seconds_this_invocation": time.perf_counter() - started,
            "protocol": __doc__.split("\n\n", 2)[2].strip()}
    rows, extra = write_all(out, studies, order, budgets, problem, info)
    print(table_text(rows, extra), end="")
    print(f"results written to {out}")


def cmd_merge(args):
    studies, settings, parts = {}, None, []
    for d in map(Path, args.dirs):
        s, done = read_journal(d / "studies.jsonl")
        if s is None:
            sys.exit(f"{d}/studies.jsonl is missing or empty")
        if settings is not None and s != settings:
            sys.exit(f"{d} holds studies of other settings: {s} != {settings}")
        settings = s
        for k, v in done.items():
            if k in studies:
                sys.exit(f"{d}: study {k} is in two directories")
            studies[k] = v
        if (d / "peers.json").exists():
            parts.append({"dir": str(d), "command": json.loads((d / "peers.json").read_text())
                          .get("command")})
    problem = problem_of(settings)
    order = [p for p in PEERS if any(k[0] == p for k in studies)]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ob.write_atomic(out / "studies.jsonl", json.dumps(settings) + "\n" + "".join(
        json.dumps(studies[k]) + "\n" for k in sorted(studies, key=lambda k: (order.index(k[0]), k[1]))))
    info = {"command": " ".join(sys.argv), "merged_from": parts}
    rows, extra = write_all(out, list(studies.values()), order, settings["budgets"], problem, info)
    print(table_text(rows, extra), end="")


def cmd_check(args):
    """A smoke run with the protocol's assertions: a few seeds of every peer at a small budget."""
    problem = make_problem(args)
    peers = args.peers.split(",")
    for peer in peers:
        for seed in range(args.seeds):
            s = run_study(problem, peer, seed, [args.budget], checks=True)
            r = s["rows"][0]
            assert r["cost"] <= args.budget * problem.unit + 1e-6
            print(f"{peer:<15} seed {seed}: {s['trials_started']:>4} trainings started, "
                  f"{s['complete']:>3} complete, {s['proposals']:>6} proposals, "
                  f"{s['total_trainings']:.3f} trainings spent, best {ob.fmt(r['report'])}, "
                  f"{s['wall_seconds']:.1f} s", flush=True)
    print(f"checks passed: costs add up, -full peers train every trial to {problem.steps[-1]}, "
          f"pruners prune, DEHB/SMAC fidelities are {'/'.join(map(str, problem.steps))}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bench", help="run the multi-fidelity peers at equal training time")
    b.add_argument("--peers", default=",".join(PEERS), help=f"comma-separated: {','.join(PEERS)}")
    b.add_argument("--budgets", default="25,50,100", help="budgets in full trainings")
    b.add_argument("--seeds", type=int, default=100, help="seeds FIRST..FIRST+N-1")
    b.add_argument("--first-seed", type=int, default=0)
    b.add_argument("--jobs", type=int, default=1, help="processes running studies at once")
    b.add_argument("--check", action="store_true", help="assert the protocol on every study")
    b.add_argument("--max-seconds", type=float,
                   help="stop a study after this much wall time; it then gives rows only for "
                        "the budgets it spent (peers.json counts such studies)")
    b.add_argument("--out", required=True)
    c = sub.add_parser("check", help="smoke run with the protocol's assertions")
    c.add_argument("--peers", default=",".join(PEERS))
    c.add_argument("--seeds", type=int, default=3)
    c.add_argument("--budget", type=int, default=10)
    for x in (b, c):
        x.add_argument("--space", help="nb101-20k (default) or a user's FILE.toml")
        x.add_argument("--table", help="a user's CSV table (one column per position)")
        x.add_argument("--fidelity", action="append", default=[],
                       help="STEP=COL[,COST_COL], repeated; the largest step's column is the "
                            "objective (as `seminas bench --fidelity`)")
        x.add_argument("--cost", help="the column of a whole training's cost (seconds)")
        x.add_argument("--report", help="the column reported (never seen by the search)")
        x.add_argument("--nearest", action="store_true",
                       help="answer a configuration outside the table with the table's nearest "
                            "cell (fewest differing parameters) instead of a free refusal")
    m = sub.add_parser("merge", help="join bench directories (per peer or per seed range)")
    m.add_argument("dirs", nargs="+")
    m.add_argument("--out", required=True)
    args = p.parse_args()
    {"bench": cmd_bench, "check": cmd_check, "merge": cmd_merge}[args.cmd](args)


if __name__ == "__main__":
    main()
