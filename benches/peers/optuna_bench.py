#!/usr/bin/env python3
"""Optuna's samplers on seminas's benchmark tables, with the protocol of `seminas bench`.

Run it through `benches/peers/run.sh` (which makes the virtual environment with the pinned
Optuna); see benches/peers/README.md. It writes the files of `seminas bench --out DIR`
(runs.csv, curves.csv, table.json) so that `seminas report DIR ...` shows Optuna's rows and
curves beside seminas's.

The protocol, exactly as `seminas bench` counts (src/search/mod.rs, src/compare/mod.rs):
- a query is the first evaluation of an architecture with a new canonical key (NB201: the cell
  string; NAS-Bench-101: the module hash of the pruned cell; a categorical space:
  `pos=choice,...`); the budget counts queries;
- a repeated architecture is answered from a cache and costs nothing: the trial is told the
  cached objective (state COMPLETE), as an objective with a cache would return it;
- an architecture the table does not hold (and, for NAS-Bench-101, a cell that is not valid)
  costs nothing: the trial is told PRUNED (what `raise optuna.TrialPruned()` in an objective
  does), so Optuna does not count it as a result, while TPE still learns from it (pruned
  trials without intermediate values go to its "bad" group);
- 1,000,000 proposals in a row that cost nothing stop the run as "stalled", as in seminas;
- the best architecture is the one with the largest objective (the earliest among equals), its
  reported value is what the row shows, regret = table optimum - reported, rank = 1 + number of
  table rows with a larger reported value, hit = rank 1;
- seconds = wall time of one search: from creating the study to the budget's last query told.

Samplers: `tpe` = `optuna.samplers.TPESampler(seed=seed)` and `random` =
`optuna.samplers.RandomSampler(seed=seed)`, both with default settings; in-memory storage; seeds
0..N-1. Neither plans from the budget, so the run of seed s with budget 50 is the first 50
queries of its run with budget 150: one run per seed at the largest budget gives every budget
(`--separate` runs each budget on its own instead; `check` verifies that both agree).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
import math
import os
import sys
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

NB201_OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
NB201_OBJECTIVE = "cifar10_valid_valid_acc"
NB201_REPORT = "cifar10_test_acc"
# The embedded NAS-Bench-201 tables: --dataset -> (objective, report), as seminas reads them.
NB201_DATASETS = {
    "cifar10": (NB201_OBJECTIVE, NB201_REPORT),
    "cifar100": ("cifar100_valid_acc", "cifar100_test_acc"),
    "imagenet16-120": ("imagenet16_120_valid_acc", "imagenet16_120_test_acc"),
}
NB101_OPS = ["conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"]  # official available_ops order
NB101_OBJECTIVE = "val_acc_108ep"
MAX_FREE_PROPOSALS = 1_000_000


# ---------------------------------------------------------------------------------------------
# NAS-Bench-101 cells: pruning, validity and the official module hash
# (google-research/nasbench: model_spec.ModelSpec._prune, api.NASBench._check_spec,
# graph_util.hash_module).


def nb101_prune(matrix, ops):
    """The official ModelSpec._prune: drops vertices not on an input-to-output path.
    Returns (matrix, ops) of the pruned cell, or None when the input does not reach the output."""
    n = len(matrix)
    from_input = {0}
    frontier = [0]
    while frontier:
        top = frontier.pop()
        for v in range(top + 1, n):
            if matrix[top][v] and v not in from_input:
                from_input.add(v)
                frontier.append(v)
    to_output = {n - 1}
    frontier = [n - 1]
    while frontier:
        top = frontier.pop()
        for v in range(0, top):
            if matrix[v][top] and v not in to_output:
                to_output.add(v)
                frontier.append(v)
    keep = sorted(from_input & to_output)
    if len(keep) < 2 or (n - 1) not in keep or 0 not in keep:
        return None
    m = [[matrix[i][j] for j in keep] for i in keep]
    return m, [ops[i] for i in keep]


def nb101_hash_module(matrix, ops):
    """The official graph_util.hash_module of a (pruned) cell."""
    n = len(matrix)
    labels = [-1] + [NB101_OPS.index(o) for o in ops[1:-1]] + [-2]
    in_deg = [sum(matrix[i][j] for i in range(n)) for j in range(n)]
    out_deg = [sum(matrix[i]) for i in range(n)]
    hashes = [
        hashlib.md5(str((out_deg[v], in_deg[v], labels[v])).encode("utf-8")).hexdigest()
        for v in range(n)
    ]
    for _ in range(n):
        hashes = [
            hashlib.md5(
                (
                    "".join(sorted(hashes[w] for w in range(n) if matrix[w][v]))
                    + "|"
                    + "".join(sorted(hashes[w] for w in range(n) if matrix[v][w]))
                    + "|"
                    + hashes[v]
                ).encode("utf-8")
            ).hexdigest()
            for v in range(n)
        ]
    return hashlib.md5(str(sorted(hashes)).encode("utf-8")).hexdigest()


def nb101_key(matrix, ops):
    """The module hash of a cell as given (7x7, possibly with dead vertices), or None when the
    cell is not valid (input not connected to output, more than 9 edges after pruning, bad
    operations): exactly what the crate's Cell::module_hash accepts."""
    pruned = nb101_prune(matrix, ops)
    if pruned is None:
        return None
    m, o = pruned
    if o[0] != "input" or o[-1] != "output" or any(x not in NB101_OPS for x in o[1:-1]):
        return None
    if sum(map(sum, m)) > 9:
        return None
    return nb101_hash_module(m, o)


# ---------------------------------------------------------------------------------------------
# Problems: a table (key -> objective, report), the reported values of every row (for rank and
# regret), and how a trial suggests an architecture and names its key.


class Problem:
    def __init__(self, name, objective_name, report_name, table):
        self.name = name
        self.objective_name = objective_name
        self.report_name = report_name
        self.table = table  # key -> (objective, report)
        self.sorted_reports = sorted(r for _, r in table.values())  # ascending
        self.optimum = self.sorted_reports[-1]

    def rank(self, report):
        # 1 + number of rows whose reported value is strictly larger (ties share the better rank).
        return 1 + len(self.sorted_reports) - bisect_left_gt(self.sorted_reports, report)

    def suggest(self, trial):
        """Suggests one architecture; returns its key, or None for an invalid one."""
        raise NotImplementedError


def bisect_left_gt(a, x):
    """Index of the first element > x in the ascending list a."""
    lo, hi = 0, len(a)
    while lo < hi:
        mid = (lo + hi) // 2
        if a[mid] > x:
            hi = mid
        else:
            lo = mid + 1
    return lo


def read_csv_text(path):
    raw = Path(path).read_bytes()
    if str(path).endswith(".gz"):
        raw = gzip.decompress(raw)
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8"))))


def metric(row, col, where):
    try:
        v = float(row[col])
    except (KeyError, TypeError, ValueError):
        sys.exit(f"{where}: column {col!r} missing or not a number")
    if not math.isfinite(v):
        sys.exit(f"{where}: column {col!r} is not finite")
    return v


class Nb201(Problem):
    """NAS-Bench-201: node j (1..3) takes one operation from each earlier node i; 6 categorical
    parameters `edge_{j}_{i}` over the 5 operations."""

    EDGES = [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)]

    def __init__(self, table_path, objective, report):
        rows = read_csv_text(table_path)
        table = {}
        for k, row in enumerate(rows):
            where = f"{table_path}:{k + 2}"
            table[row["arch"]] = (metric(row, objective, where), metric(row, report, where))
        super().__init__("nb201", objective, report, table)

    def suggest(self, trial):
        ops = {e: trial.suggest_categorical(f"edge_{e[0]}_{e[1]}", NB201_OPS) for e in self.EDGES}
        nodes = []
        for j in (1, 2, 3):
            nodes.append("|" + "|".join(f"{ops[(j, i)]}~{i}" for i in range(j)) + "|")
        return "+".join(nodes)


class Nb101_20k(Problem):
    """nb101-20k: NAS-Bench-101 cells as the NAS-Bench-101 paper encodes them for
    hyperparameter optimisers: the 21 entries above the diagonal of the 7x7 adjacency matrix
    (categorical 0/1, `e_{i}_{j}`) and the operations of the 5 interior vertices (`op_{v}`).
    The key is the module hash of the pruned cell; only the table's 20,001 cells evaluate."""

    def __init__(self, table_path):
        rows = read_csv_text(table_path)
        table = {}
        for k, row in enumerate(rows):
            v = metric(row, NB101_OBJECTIVE, f"{table_path}:{k + 2}")
            table[row["hash"]] = (v, v)
        super().__init__("nb101-20k", NB101_OBJECTIVE, NB101_OBJECTIVE, table)

    def suggest(self, trial):
        m = [[0] * 7 for _ in range(7)]
        for i in range(7):
            for j in range(i + 1, 7):
                m[i][j] = trial.suggest_categorical(f"e_{i}_{j}", [0, 1])
        ops = ["input"] + [trial.suggest_categorical(f"op_{v}", NB101_OPS) for v in range(1, 6)]
        return nb101_key(m, ops + ["output"])


class Categorical(Problem):
    """A user-defined categorical space (the TOML file of `seminas --space FILE.toml`) and its
    CSV table (one column per position holding a choice name, metric columns)."""

    def __init__(self, space_path, table_path, objective, report):
        name = self.read_space(space_path)
        table = {}
        for k, row in enumerate(read_csv_text(table_path)):
            where = f"{table_path}:{k + 2}"
            key = self.row_key(row, where)
            table[key] = (metric(row, objective, where), metric(row, report, where))
        super().__init__(name, objective, report, table)

    def read_space(self, space_path):
        """Reads the positions of the TOML space; returns the space's name."""
        spec = tomllib.loads(Path(space_path).read_text())
        self.positions = [(p["name"], list(p["choices"])) for p in spec["position"]]
        return spec.get("name") or Path(space_path).stem

    def row_key(self, row, where):
        """The key of a table row (its choice at every position), or exit naming the cell."""
        parts = []
        for pos, choices in self.positions:
            c = row.get(pos)
            if c not in choices:
                sys.exit(f"{where}: column {pos!r}: {c!r} is not a choice of the space")
            parts.append(f"{pos}={c}")
        return ",".join(parts)

    def suggest(self, trial):
        return ",".join(f"{p}={trial.suggest_categorical(p, c)}" for p, c in self.positions)


def make_problem(args):
    if args.space == "nb201":
        if args.table:
            if args.dataset:
                sys.exit("--dataset chooses an embedded table; --table names its own columns")
            return Nb201(args.table, args.objective or NB201_OBJECTIVE, args.report or NB201_REPORT)
        dataset = args.dataset or "cifar10"
        if dataset not in NB201_DATASETS:
            sys.exit(f"unknown --dataset {dataset!r}: {', '.join(NB201_DATASETS)}")
        objective, report = NB201_DATASETS[dataset]
        table = REPO / "data" / f"nb201_{dataset.replace('-', '_')}.csv.gz"
        return Nb201(table, args.objective or objective, args.report or report)
    if args.space == "nb101-20k":
        if args.table or args.objective or args.report:
            sys.exit("nb101-20k is an embedded table: --table/--objective/--report do not apply")
        return Nb101_20k(REPO / "data" / "nb101_20k.csv.gz")
    if args.space.endswith(".toml"):
        if not (args.table and args.objective and args.report):
            sys.exit("a categorical space needs --table FILE.csv --objective COL --report COL")
        return Categorical(args.space, args.table, args.objective, args.report)
    sys.exit(f"unknown space {args.space!r}: nb201, nb101-20k or a .toml file")


# ---------------------------------------------------------------------------------------------
# One search


def make_sampler(name, seed):
    import optuna

    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    sys.exit(f"unknown sampler {name!r}: tpe or random")


def run_search(problem, sampler_name, seed, budgets, max_free=MAX_FREE_PROPOSALS,
               max_seconds=None, max_trials=None):
    """One Optuna study, driven until the largest budget is spent (or `max_free` proposals in a
    row cost nothing, or `max_seconds` of wall time have passed); returns one result per budget
    (a dict with the runs.csv fields and the curve; `queries` < budget when it stopped early)."""
    import optuna
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    budgets = sorted(set(budgets))
    started = time.perf_counter()
    cpu_started = time.process_time()
    study = optuna.create_study(direction="maximize", sampler=make_sampler(sampler_name, seed))
    known = {}  # key -> objective, or None when not evaluable
    curve = []  # reported value of the best-by-objective architecture after each query
    best = None  # (objective, report, key)
    free_in_a_row = 0
    results = []
    trials = not_evaluable = 0
    stop = "budget"
    while len(curve) < budgets[-1]:
        if free_in_a_row >= max_free:
            stop = "stalled"
            break
        if max_seconds is not None and time.perf_counter() - started > max_seconds:
            stop = "time limit"
            break
        if max_trials is not None and trials >= max_trials:
            stop = "trial limit"
            break
        trial = study.ask()
        trials += 1
        key = problem.suggest(trial)
        if key in known:
            free_in_a_row += 1
            if known[key] is None:
                study.tell(trial, state=TrialState.PRUNED)
            else:
                study.tell(trial, known[key])
            continue
        entry = problem.table.get(key) if key is not None else None
        if entry is None:
            known[key] = None
            not_evaluable += 1
            free_in_a_row += 1
            study.tell(trial, state=TrialState.PRUNED)
            continue
        free_in_a_row = 0
        objective, report = entry
        known[key] = objective
        study.tell(trial, objective)
        if best is None or objective > best[0]:
            best = (objective, report, key)
        curve.append(best[1])
        if len(curve) in budgets:
            results.append(result_row(problem, sampler_name, seed, len(curve), best, curve,
                                      time.perf_counter() - started))
            results[-1]["cpu_seconds"] = time.process_time() - cpu_started
    # A run stopped early reports what it has at each budget it did not reach.
    for b in budgets[len(results):]:
        results.append(result_row(problem, sampler_name, seed, b, best, curve,
                                  time.perf_counter() - started))
        results[-1]["cpu_seconds"] = time.process_time() - cpu_started
    for r in results:
        r["trials"] = trials
        r["not_evaluable"] = not_evaluable
        r["stop"] = stop if r["queries"] < r["budget"] else "budget"
    return results


def result_row(problem, sampler_name, seed, budget, best, curve, seconds):
    if best is None:
        raise RuntimeError(f"{sampler_name} with seed {seed} evaluated no architecture")
    objective, report, key = best
    rank = problem.rank(report)
    return {
        "algo": f"optuna-{sampler_name}",
        "budget": budget,
        "seed": seed,
        "queries": len(curve),
        "best_key": key,
        "objective": objective,
        "report": report,
        "regret": problem.optimum - report,
        "rank": rank,
        "hit": int(rank == 1),
        "seconds": seconds,
        "curve": list(curve),
    }


# ---------------------------------------------------------------------------------------------
# Output in the format of `seminas bench --out DIR`


def fmt(x):
    """A float as Rust's `{}` writes an f64: shortest round-trip digits, no exponent for
    ordinary values, `NaN`."""
    if isinstance(x, float):
        if math.isnan(x):
            return "NaN"
        if x == int(x) and abs(x) < 1e16:
            return str(int(x))
        return repr(x)
    return str(x)


def curve_text(curve):
    """The best-so-far curve as its change points, `query:value` separated by spaces."""
    out, last = [], float("nan")
    for i, v in enumerate(curve):
        if not (v == last or (math.isnan(v) and math.isnan(last))):
            out.append(f"{i + 1}:{fmt(v)}")
            last = v
    return " ".join(out)


RUNS_HEADER = "algo,budget,seed,queries,best_key,objective,report,regret,rank,hit,seconds,curve"


def runs_csv(runs):
    lines = [RUNS_HEADER]
    for r in runs:
        key = r["best_key"].replace('"', '""')
        lines.append(
            f'{r["algo"]},{r["budget"]},{r["seed"]},{r["queries"]},"{key}",{fmt(r["objective"])},'
            f'{fmt(r["report"])},{fmt(r["regret"])},{r["rank"]},{r["hit"]},{fmt(r["seconds"])},'
            f'"{curve_text(r["curve"])}"'
        )
    return "\n".join(lines) + "\n"


def mean_std(v):
    if not v:
        return float("nan"), float("nan")
    m = sum(v) / len(v)
    if len(v) < 2:
        return m, 0.0
    return m, math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1))


def summarize(runs, algos, budgets):
    rows, curves = [], []
    for a in algos:
        for b in budgets:
            rs = [r for r in runs if r["algo"] == a and r["budget"] == b]
            m, s = mean_std([r["report"] for r in rs])
            rows.append({
                "algo": a,
                "queries": b,
                "seeds": len(rs),
                "mean_report": m,
                "std_report": s,
                "mean_regret": mean_std([r["regret"] for r in rs])[0],
                "mean_rank": mean_std([float(r["rank"]) for r in rs])[0],
                "hit_rate": mean_std([float(r["hit"]) for r in rs])[0],
                "mean_seconds": mean_std([r["seconds"] for r in rs])[0],
            })
        rs = [r for r in runs if r["algo"] == a and r["budget"] == max(budgets)]
        n = min(len(r["curve"]) for r in rs)
        mean, err = [], []
        for i in range(n):
            v = [r["curve"][i] for r in rs if math.isfinite(r["curve"][i])]
            m, s = mean_std(v)
            mean.append(m)
            err.append(s / math.sqrt(len(v)) if len(v) > 1 else 0.0)
        curves.append((a, mean, err))
    return rows, curves


def write_outputs(out, runs, curves, table):
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "runs.csv", runs_csv(runs))
    write_atomic(out / "curves.csv", "algo,queries,mean_report,stderr\n" + "".join(
        f"{a},{i + 1},{fmt(m)},{fmt(e)}\n" for a, ms, es in curves
        for i, (m, e) in enumerate(zip(ms, es))))
    write_atomic(out / "table.json", json.dumps(table, indent=2) + "\n")


def write_atomic(path, text):
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def table_text(rows, report_name):
    out = [f"{'method':<14} {'queries':>7} {'seeds':>6} {'mean report':>12} {'std':>8} "
           f"{'mean regret':>12} {'mean rank':>10} {'hit rate':>8} {'s/run':>8}"]
    for r in rows:
        out.append(f"{r['algo']:<14} {r['queries']:>7} {r['seeds']:>6} {r['mean_report']:>12.4f} "
                   f"{r['std_report']:>8.4f} {r['mean_regret']:>12.4f} {r['mean_rank']:>10.1f} "
                   f"{r['hit_rate']:>8.2f} {r['mean_seconds']:>8.3f}")
    out.append(f"(report: {report_name}; rank 1 = best of all architectures; hit rate = share of "
               f"runs whose best architecture has the table's best reported value)")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------
# Commands


def work(job):
    problem, sampler, seed, budgets, separate, max_seconds, max_trials = job
    limits = dict(max_seconds=max_seconds, max_trials=max_trials)
    if separate:
        out = []
        for b in budgets:
            out += run_search(problem, sampler, seed, [b], **limits)
        return out
    return run_search(problem, sampler, seed, budgets, **limits)


_PROBLEM = None


def _init(problem):
    global _PROBLEM
    _PROBLEM = problem


def _work(job):
    return work((_PROBLEM,) + job)


def cmd_bench(args):
    import optuna

    problem = make_problem(args)
    samplers = list(dict.fromkeys(args.samplers.split(",")))
    budgets = list(dict.fromkeys(int(q) for q in args.queries.split(",")))
    if any(b < 1 for b in budgets) or args.seeds < 1:
        sys.exit("--queries must list budgets of at least 1 and --seeds must be at least 1")
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    jobs = [(s, seed, budgets, args.separate, args.max_seconds, args.max_trials)
            for s in samplers for seed in seeds]
    started = time.perf_counter()
    results = []
    journal = None
    if args.out:
        # Each finished study is appended to DIR/studies.jsonl (first line: the settings), so
        # that a stopped bench started again with the same settings runs only what is missing.
        Path(args.out).mkdir(parents=True, exist_ok=True)
        path = Path(args.out) / "studies.jsonl"
        settings = {"optuna": optuna.__version__, "space": args.space, "table": args.table,
                    "objective": args.objective, "report": args.report,
                    "budgets": sorted(budgets), "separate": args.separate,
                    "max_seconds": args.max_seconds, "max_trials": args.max_trials}
        lines = path.read_text().splitlines(keepends=True) if path.exists() else []
        lines = [l for l in lines if l.endswith("\n")]
        if lines and json.loads(lines[0]) != settings:
            sys.exit(f"{path} holds studies of other settings: remove it or use another --out")
        done = {}
        for l in lines[1:]:
            rs = json.loads(l)
            done[(rs[0]["algo"], rs[0]["seed"])] = rs
        write_atomic(path, json.dumps(settings) + "\n" + "".join(
            json.dumps(rs) + "\n" for rs in done.values()))
        journal = path.open("a")
        todo = []
        for job in jobs:
            rs = done.get((f"optuna-{job[0]}", job[1]))
            if rs is None:
                todo.append(job)
            else:
                results += rs
        if len(todo) < len(jobs):
            print(f"resuming: {len(jobs) - len(todo)} of {len(jobs)} studies were finished "
                  f"before", file=sys.stderr)
        jobs = todo

    def finished(r):
        nonlocal results
        results += r
        if journal is not None:
            journal.write(json.dumps(r) + "\n")
            journal.flush()

    if args.jobs > 1:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(args.jobs, initializer=_init, initargs=(problem,)) as pool:
            for k, r in enumerate(pool.imap(_work, jobs)):
                finished(r)
                progress(k + 1, len(jobs), started)
    else:
        _init(problem)
        for k, job in enumerate(jobs):
            finished(_work(job))
            progress(k + 1, len(jobs), started)
    print(file=sys.stderr)
    algos = [f"optuna-{s}" for s in samplers]
    order = {(a, b): i for i, (a, b) in enumerate((a, b) for a in algos for b in budgets)}
    results.sort(key=lambda r: (order[(r["algo"], r["budget"])], r["seed"]))
    rows, curves = summarize(results, algos, budgets)
    wall = time.perf_counter() - started
    if args.out:
        out = Path(args.out)
        table = {
            "space": problem.name,
            "objective": problem.objective_name,
            "report": problem.report_name,
            "optimum": problem.optimum,
            "rows": rows,
        }
        write_outputs(out, results, curves, table)
        at_max = [r for r in results if r["budget"] == max(budgets)]
        per_sampler = {}
        for a in algos:
            rs = [r for r in at_max if r["algo"] == a]
            per_sampler[a] = {
                "runs": len(rs),
                "mean_trials": sum(r["trials"] for r in rs) / len(rs),
                "mean_queries": sum(r["queries"] for r in rs) / len(rs),
                "mean_seconds": sum(r["seconds"] for r in rs) / len(rs),
                "mean_cpu_seconds": sum(r["cpu_seconds"] for r in rs) / len(rs),
                "runs_stopped_early": {s: sum(r["stop"] == s for r in rs)
                                       for s in ("stalled", "time limit", "trial limit")},
            }
        write_atomic(out / "optuna.json", json.dumps({
            "optuna": optuna.__version__,
            "python": sys.version.split()[0],
            "samplers": {f"optuna-{s}": f"optuna.samplers.{make_sampler(s, 0).__class__.__name__}"
                                        "(seed=seed), default settings" for s in samplers},
            "separate_runs_per_budget": args.separate,
            "jobs": args.jobs,
            "wall_seconds": wall,
            "max_seconds_per_study": args.max_seconds,
            "max_trials_per_study": args.max_trials,
            "at_largest_budget": per_sampler,
            "command": " ".join(sys.argv),
        }, indent=2) + "\n")
    if args.json:
        print(json.dumps({"space": problem.name, "report": problem.report_name,
                          "optimum": problem.optimum, "rows": rows}))
    else:
        print(f"optuna {optuna.__version__} on {problem.name}: {len(results)} searches "
              f"({len(jobs)} studies) in {wall:.1f} s ({args.jobs} processes)")
        print(table_text(rows, problem.report_name), end="")
        if args.out:
            print(f"results written to {args.out}")


def progress(done, total, started):
    if sys.stderr.isatty() or done == total or done % 10 == 0 or total < 50:
        print(f"\roptuna bench: {done}/{total} studies, {time.perf_counter() - started:.0f} s",
              end="", file=sys.stderr, flush=True)


def parse_curve(text, n):
    curve, value = [], float("nan")
    for point in text.split():
        q, v = point.split(":")
        curve += [value] * (int(q) - 1 - len(curve))
        value = float(v)
        curve.append(value)
    return curve + [value] * (n - len(curve))


def cmd_merge(args):
    runs, meta, info = [], None, []
    for d in map(Path, args.dirs):
        table = json.loads((d / "table.json").read_text())
        m = {k: table[k] for k in ("space", "objective", "report", "optimum")}
        if meta is not None and m != meta:
            sys.exit(f"{d} holds another benchmark: {m} != {meta}")
        meta = m
        if (d / "optuna.json").exists():
            info.append(json.loads((d / "optuna.json").read_text()))
        for r in csv.DictReader(io.StringIO((d / "runs.csv").read_text())):
            q = int(r["queries"])
            runs.append({
                "algo": r["algo"], "budget": int(r["budget"]), "seed": int(r["seed"]),
                "queries": q, "best_key": r["best_key"], "objective": float(r["objective"]),
                "report": float(r["report"]), "regret": float(r["regret"]),
                "rank": int(r["rank"]), "hit": int(r["hit"]), "seconds": float(r["seconds"]),
                "curve": parse_curve(r["curve"], q),
            })
    keys = [(r["algo"], r["budget"], r["seed"]) for r in runs]
    if len(set(keys)) != len(keys):
        sys.exit("the directories hold the same run (algorithm, budget, seed) twice")
    algos = list(dict.fromkeys(r["algo"] for r in runs))
    budgets = sorted({r["budget"] for r in runs})
    runs.sort(key=lambda r: (algos.index(r["algo"]), r["budget"], r["seed"]))
    rows, curves = summarize(runs, algos, budgets)
    write_outputs(Path(args.out), runs, curves, dict(meta, rows=rows))
    if info:
        write_atomic(Path(args.out) / "optuna.json",
                     json.dumps({"merged_from": args.dirs, "parts": info}, indent=2) + "\n")
    print(table_text(rows, meta["report"]), end="")


def cmd_check(args):
    """Checks the NAS-Bench-101 hash against the published graphs and, for a few seeds, that
    one run per seed gives what separate runs per budget give."""
    graphs = Path(args.graphs)
    raw = graphs.read_bytes()
    if graphs.suffix == ".gz":
        raw = gzip.decompress(raw)
    n = 0
    for line in raw.decode().splitlines():
        g = json.loads(line)
        got = nb101_key(g["matrix"], g["ops"])
        if got != g["hash"]:
            sys.exit(f"hash mismatch for {g}: got {got}")
        n += 1
    small = REPO / "tests/fixtures/nb101/nb101_small_cells_hashes.json.gz"
    cells = json.loads(gzip.decompress(small.read_bytes()))
    for h, g in cells.items():
        if nb101_key(g["matrix"], g["ops"]) != h:
            sys.exit(f"hash mismatch for small cell {h}")
    print(f"NAS-Bench-101 module hash: {n} of {n} published graphs and {len(cells)} of "
          f"{len(cells)} small cells match")
    problem = Nb201(REPO / "data" / "nb201_cifar10.csv.gz", NB201_OBJECTIVE, NB201_REPORT)
    for sampler in ("tpe", "random"):
        for seed in range(2):
            joint = run_search(problem, sampler, seed, [10, 30])
            apart = [run_search(problem, sampler, seed, [b])[0] for b in (10, 30)]
            for a, b in zip(joint, apart):
                if (a["best_key"], a["curve"]) != (b["best_key"], b["curve"]):
                    sys.exit(f"{sampler} seed {seed}: budget {a['budget']} differs when run alone")
    print("one study per seed gives each budget's separate run (tpe, random; seeds 0-1; 10, 30)")


def cmd_hash(args):
    """Prints the module hash of cells given as ADJACENCY:OPS (the crate's `seminas nb101 hash`
    form), one per line of standard input, or `invalid`."""
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        adj, ops = line.split(":")
        ops = ops.split(",")
        n = len(ops)
        m = [[int(adj[i * n + j]) for j in range(n)] for i in range(n)]
        print(nb101_key(m, ops) or "invalid")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bench", help="run Optuna's samplers with the protocol of seminas bench")
    b.add_argument("--space", default="nb201", help="nb201, nb101-20k or FILE.toml")
    b.add_argument("--table", help="CSV table (nb201: an `arch` column; FILE.toml: one column "
                                   "per position)")
    b.add_argument("--dataset", help="nb201: cifar10 (default), cifar100 or imagenet16-120, "
                   "as seminas's --dataset")
    b.add_argument("--objective", help="column the search maximises")
    b.add_argument("--report", help="column reported, never seen by the search")
    b.add_argument("--samplers", default="tpe,random", help="comma-separated: tpe, random")
    b.add_argument("--queries", default="50,100,150", help="budgets, comma-separated")
    b.add_argument("--seeds", type=int, default=100, help="seeds 0..N-1")
    b.add_argument("--first-seed", type=int, default=0,
                   help="start at this seed (to split a long bench; join the parts with merge)")
    b.add_argument("--jobs", type=int, default=1, help="processes running studies at once")
    b.add_argument("--separate", action="store_true",
                   help="one study per budget (instead of one per seed at the largest budget)")
    b.add_argument("--max-seconds", type=float,
                   help="stop a study after this many seconds of wall time (its rows then "
                        "have fewer queries than the budget; optuna.json counts them)")
    b.add_argument("--max-trials", type=int,
                   help="stop a study after this many trials (proposals; repeats and "
                        "architectures the table does not hold included)")
    b.add_argument("--json", action="store_true", help="print the table as JSON")
    b.add_argument("--out", help="write runs.csv, curves.csv, table.json (and optuna.json) here")
    c = sub.add_parser("check", help="check the NB101 hash and the one-study-per-seed shortcut")
    c.add_argument("--graphs", default=str(REPO / "tests/fixtures/nb101/nb101_1k_graphs.jsonl.gz"))
    sub.add_parser("hash", help="module hashes of ADJACENCY:OPS cells read from stdin")
    m = sub.add_parser("merge", help="join bench directories of the same space run on "
                                     "different seeds (--first-seed) into one")
    m.add_argument("dirs", nargs="+")
    m.add_argument("--out", required=True)
    args = p.parse_args()
    {"bench": cmd_bench, "check": cmd_check, "hash": cmd_hash, "merge": cmd_merge}[args.cmd](args)


if __name__ == "__main__":
    main()
