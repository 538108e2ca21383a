"""seminas: semi-supervised neural architecture search (SemiNAS) from Python.

A study proposes architectures (``ask``) and learns what they scored (``tell``); the
evaluation is yours::

    import seminas
    space = seminas.NB201Space()
    study = seminas.Study(space, algo="seminas", budget=100, seed=0, storage="runs/a")
    while (trial := study.ask()) is not None:
        study.tell(trial, train_and_validate(trial.arch))
    study.best, study.trials

The same seed gives the same trials as ``seminas search`` (with ``workers=N``: as
``seminas search --workers N``, whatever order trials are told in). Architectures are plain
Python values: a str for NB201 (the official cell string), a dict for categorical spaces,
``{"matrix": [[...]], "ops": [...]}`` for NB101 and a list of 21 operation names for the
MobileNet-style space.

The predictor alone (fit on evaluated architectures, rank others, generate better ones)::

    p = seminas.Predictor(space, seed=0)
    p.fit(archs, accuracies, unlabeled=10000)
    p.predict(other_archs); p.generate(archs, step=2.0); p.save("p.safetensors")
"""

from __future__ import annotations

import json
import math
import numbers
import re
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from . import _seminas
from . import benchmarks

__all__ = [
    "NB201Space",
    "NB101Space",
    "CategoricalSpace",
    "MobileSpace",
    "Predictor",
    "Study",
    "Trial",
    "TrialPruned",
    "optimize",
    "benchmarks",
    "ALGORITHMS",
    "kendall_tau",
]

__version__ = _seminas.__version__

#: The search algorithms, as ``algo=`` names them.
ALGORITHMS = ("random", "re", "nao", "seminas", "seminas-re", "seminas-ens")


class _Space:
    """A search space; converts architectures between Python values and the Rust side."""

    _raw: Any

    @property
    def name(self) -> str:
        """The space's short name."""
        return self._raw.name

    @property
    def cardinality(self) -> Optional[int]:
        """Number of distinct architectures, when known."""
        return self._raw.cardinality

    def _to_json(self, arch: Any) -> str:
        return json.dumps(arch)

    def _from_json(self, text: str) -> Any:
        return json.loads(text)

    def validate(self, arch: Any) -> Any:
        """Checks ``arch`` (raises ValueError) and returns its canonical form."""
        return self._from_json(self._raw.canonical(self._to_json(arch)))

    def key(self, arch: Any) -> str:
        """The canonical key: two architectures with the same key are the same candidate."""
        return self._raw.key(self._to_json(arch))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class NB201Space(_Space):
    """NAS-Bench-201 cells (15,625), as official cell strings
    (``"|nor_conv_3x3~0|+|...|"``)."""

    def __init__(self) -> None:
        self._raw = _seminas.Space("nb201")


class NB101Space(_Space):
    """NAS-Bench-101 cells, as ``{"matrix": 7x7 upper-triangular 0/1 rows, "ops": [...]}``."""

    def __init__(self) -> None:
        self._raw = _seminas.Space("nb101")


class MobileSpace(_Space):
    """The paper's MobileNet-style ImageNet space: 21 blocks (6 stages), each one of
    ``k3e3, k3e6, k5e3, k5e6, k7e3, k7e6, zero`` (MBConv kernel and expansion, or no block;
    never ``zero`` first in a stage). Architectures are lists of 21 operation names.
    ``max_mflops``: only architectures of at most that many million multiply-adds (the
    paper's bound is 600) are valid and proposed."""

    def __init__(self, max_mflops: Optional[float] = None) -> None:
        if max_mflops is not None and (isinstance(max_mflops, bool) or not isinstance(max_mflops, (int, float))):
            raise ValueError(f"max_mflops must be a number, not {max_mflops!r}")
        self.max_mflops = None if max_mflops is None else float(max_mflops)
        self._raw = _seminas.Space.mobile(self.max_mflops)

    def _to_json(self, arch: Any) -> str:
        if isinstance(arch, str) or not isinstance(arch, Sequence):
            raise ValueError(f"a mobile architecture is a list of operation names, not {arch!r}")
        for op in arch:
            if not isinstance(op, str):
                raise ValueError(f"a mobile architecture is a list of operation names, not {arch!r}")
        return json.dumps(" ".join(arch))

    def _from_json(self, text: str) -> Any:
        raw = json.loads(text)
        form = raw["arch"] if isinstance(raw, dict) else raw
        return re.split(r"[,|\s]+", form.strip())

    def describe(self, arch: Any) -> Dict[str, Any]:
        """The architecture's network as a dict: ``mflops``, ``params``, ``official`` (the
        paper code's integers), ``arch`` (text) and ``network`` (the blocks to build)."""
        return json.loads(self._raw.describe(self._to_json(arch)))

    def __repr__(self) -> str:
        return f"MobileSpace(max_mflops={self.max_mflops!r})"


Choice = Union[str, int, float, bool]


class CategoricalSpace(_Space):
    """A space of named decisions, each with its own choices: strings or numbers.

    ``CategoricalSpace({"depth": [2, 3, 4], "op": ["conv", "skip"]})``; architectures are
    dicts ``{"depth": 3, "op": "skip"}`` with the choices' own values.
    """

    def __init__(self, positions: Mapping[str, Sequence[Choice]], name: str = "categorical") -> None:
        if not isinstance(positions, Mapping) or not positions:
            raise ValueError("a categorical space is a non-empty dict of name: list of choices")
        self._values: Dict[str, Dict[str, Choice]] = {}
        lines = [f"name = {json.dumps(name)}"]
        for pos, choices in positions.items():
            if not isinstance(pos, str):
                raise ValueError(f"position names are strings, not {pos!r}")
            if isinstance(choices, (str, bytes)) or not isinstance(choices, Sequence):
                raise ValueError(f"position {pos!r}: choices must be a list, not {choices!r}")
            texts: Dict[str, Choice] = {}
            for c in choices:
                if not isinstance(c, (str, int, float)) or (isinstance(c, float) and not math.isfinite(c)):
                    raise ValueError(f"position {pos!r}: a choice is a string or a finite number, not {c!r}")
                t = str(c)
                if t in texts:
                    raise ValueError(f"position {pos!r}: choice {c!r} appears twice")
                texts[t] = c
            self._values[pos] = texts
            lines.append("[[position]]")
            lines.append(f"name = {json.dumps(pos)}")
            lines.append(f"choices = {json.dumps(list(texts))}")
        self._raw = _seminas.Space("categorical", "\n".join(lines) + "\n", name)

    @classmethod
    def from_toml(cls, path: str) -> "CategoricalSpace":
        """A space from a TOML file (``[[position]]`` tables with ``name`` and ``choices``,
        as ``seminas search --space FILE.toml`` reads)."""
        with open(path, encoding="utf-8") as f:
            text = f.read()
        doc = json.loads(_seminas.toml_to_json(text))
        positions = doc.get("position")
        if not isinstance(positions, list):
            raise ValueError(f"{path}: no [[position]] tables")
        out: Dict[str, Sequence[Choice]] = {}
        for p in positions:
            if not isinstance(p, dict) or "name" not in p or "choices" not in p:
                raise ValueError(f"{path}: every [[position]] needs name and choices")
            if p["name"] in out:
                raise ValueError(f"{path}: position name {p['name']!r} appears twice")
            out[p["name"]] = p["choices"]
        return cls(out, name=doc.get("name", "categorical"))

    @property
    def positions(self) -> Dict[str, List[Choice]]:
        """Each position's choices."""
        return {p: list(v.values()) for p, v in self._values.items()}

    def _to_json(self, arch: Any) -> str:
        if not isinstance(arch, Mapping):
            raise ValueError(f"an architecture of a categorical space is a dict, not {arch!r}")
        return json.dumps({k: v if isinstance(v, str) else str(v) for k, v in arch.items()})

    def _from_json(self, text: str) -> Any:
        raw = json.loads(text)
        return {k: self._values[k][v] for k, v in raw.items()}

    def __repr__(self) -> str:
        return f"CategoricalSpace({self.positions!r})"


class TrialPruned(Exception):
    """Raised by an objective (in ``optimize``) to say that its trial was stopped early: the
    trial is told pruned at its last reported step (as ``optuna.TrialPruned``)."""


@dataclass(frozen=True)
class Trial:
    """One architecture to evaluate."""

    #: 0-based proposal number (its folder's name under ``storage/evals/``).
    number: int
    #: The architecture, as a plain Python value.
    arch: Any
    #: Its canonical key.
    key: str
    #: A folder of its own, in a stored study.
    workdir: Optional[str] = None
    # A weak reference: a trial kept by its user does not keep its study (and its store's
    # lock) alive.
    _study: Optional[Any] = field(default=None, repr=False, compare=False)

    def _owner(self) -> "Study":
        study = self._study() if self._study is not None else None
        if study is None:
            raise ValueError("this trial's study is gone (or it was not asked from a study)")
        return study

    def report(self, step: int, value: float, cost_seconds: Optional[float] = None) -> bool:
        """Reports the objective after ``step`` (an epoch, say); True when the search wants
        the training stopped (then stop, and ``study.tell_pruned(trial)`` or raise
        ``TrialPruned`` in ``optimize``). ``cost_seconds``: the training's cost so far
        (default: the time since the trial was asked)."""
        return self._owner().report(self, step, value, cost_seconds)

    def should_prune(self) -> bool:
        """What the last ``report`` answered (False before any)."""
        return self._owner()._stop.get(self.number, False)


def kendall_tau(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall's tau-b of two equally long score lists (ties as scipy counts them), e.g. a
    predictor's predictions against the true values: 1 = the same ranking, -1 = reversed."""
    return _seminas.kendall_tau([float(x) for x in a], [float(x) for x in b])


def _settings_json(settings: Mapping[str, Any]) -> str:
    return json.dumps(dict(settings))


class Study:
    """A search in ask/tell form.

    ``algo``: one of ``ALGORITHMS`` (default seminas-ens, the CLI's default too). ``budget``: queries (evaluations of
    distinct architectures; a repeat costs nothing, a failure counts; default 100, no limit
    with ``budget_seconds``). ``workers``: trials
    evaluated at once; ``ask`` returns None while that many wait to be told.
    ``storage``: a folder holding the study (SQLite); reopening it with the same arguments
    resumes it (told trials are kept, asked but untold ones are asked again first).
    ``direction``: "maximize" or "minimize". Other keyword arguments are the algorithm's
    settings (population, tournament, init, pseudo, top_k, per_round, pretrain_epochs,
    controller_epochs, upsample, controller_hidden, children, retrain_every, preset,
    early_stopping).

    Early stopping: trials report their objective per step (``trial.report(step, value)``)
    given ``fidelities`` (the steps every trial reports, e.g. ``[4, 12, 36, 108]``) or
    ``max_step`` (trials may report any step up to it, e.g. each epoch). ``prune``: "none",
    "asha", "hyperband", "median", "percentile:p=25" (see ``seminas search --help``) or
    None (automatic: with ``budget_seconds``, the algorithm's own rule where it has one,
    seminas-ens). ``budget_seconds``: a budget in training time (each trial costs the time
    from ``ask`` to ``tell``, or the ``cost_seconds`` told; without this budget a trial costs
    what ``cost_seconds`` says, else 0).
    """

    def __init__(
        self,
        space: _Space,
        algo: str = "seminas-ens",
        budget: Optional[int] = None,
        seed: int = 0,
        storage: Optional[str] = None,
        workers: int = 1,
        direction: str = "maximize",
        fidelities: Optional[Sequence[int]] = None,
        max_step: Optional[int] = None,
        prune: Optional[str] = None,
        budget_seconds: Optional[float] = None,
        **settings: Any,
    ) -> None:
        if not isinstance(space, _Space):
            raise ValueError(f"space must be a seminas space, not {space!r}")
        if direction not in ("maximize", "minimize"):
            raise ValueError(f"direction is 'maximize' or 'minimize', not {direction!r}")
        for name, n in (("budget", budget), ("seed", seed), ("workers", workers)):
            if n is None and name == "budget":
                continue
            if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                raise ValueError(f"{name} must be a non-negative int, not {n!r}")
        if fidelities is not None:
            fidelities = [int(f) for f in fidelities]
        if budget_seconds is not None:
            if isinstance(budget_seconds, bool) or not isinstance(budget_seconds, (int, float)):
                raise ValueError(f"budget_seconds must be a number, not {budget_seconds!r}")
            budget_seconds = float(budget_seconds)
        if budget is None:
            # With a training-time budget, queries are not limited.
            budget = 100 if budget_seconds is None else 2**63 - 1
        self.space = space
        self.direction = direction
        self._asked: Dict[int, Trial] = {}
        self._since: Dict[int, float] = {}
        self._stop: Dict[int, bool] = {}
        self._reported_cost: Dict[int, float] = {}
        self._timed = budget_seconds is not None
        self._lock = threading.Lock()
        self._raw = _seminas.RawStudy(
            space._raw,
            algo,
            budget,
            seed,
            workers,
            direction == "minimize",
            None if storage is None else str(storage),
            _settings_json(settings),
            fidelities=fidelities,
            max_step=max_step,
            prune=prune,
            budget_seconds=budget_seconds,
        )

    def ask(self) -> Optional[Trial]:
        """The next trial, or None: the budget is spent, the space exhausted, or ``workers``
        trials wait to be told (see ``status``)."""
        out = self._raw.ask()
        if out is None:
            return None
        number, arch, key, workdir = out
        trial = Trial(number, self.space._from_json(arch), key,
                      None if workdir is None else str(workdir), weakref.ref(self))
        self._asked[number] = trial
        self._since[number] = time.monotonic()
        return trial

    def _cost(self, number: int, cost_seconds: Optional[float]) -> float:
        """The cost given; else, with a budget in training time, the larger of the time since
        the trial was asked and the cost its last report gave (0 without such a budget, so
        that a study's trials do not depend on timing)."""
        if cost_seconds is not None:
            if isinstance(cost_seconds, bool) or not isinstance(cost_seconds, (int, float)):
                raise ValueError(f"trial {number}: cost_seconds is a number, not {cost_seconds!r}")
            return float(cost_seconds)
        if not self._timed:
            return self._reported_cost.get(number, 0.0)
        since = self._since.get(number)
        elapsed = 0.0 if since is None else time.monotonic() - since
        return max(elapsed, self._reported_cost.get(number, 0.0))

    def report(self, trial: Union[Trial, int], step: int, value: float,
               cost_seconds: Optional[float] = None) -> bool:
        """Reports a running trial's objective after ``step``; True when it should stop
        (see ``Trial.report``)."""
        number = trial.number if isinstance(trial, Trial) else int(trial)
        if isinstance(step, bool) or not isinstance(step, numbers.Integral):
            raise ValueError(f"trial {number}: the step is an int, not {step!r}")
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(f"trial {number}: the objective is a number, not {value!r}")
        cost = self._cost(number, cost_seconds)
        stop = self._raw.report(number, int(step), float(value), cost)
        self._stop[number] = stop
        self._reported_cost[number] = cost
        return stop

    def tell_pruned(self, trial: Union[Trial, int], cost_seconds: Optional[float] = None) -> None:
        """Reports that a trial's training was stopped at its last reported step (after
        ``report`` answered True, or by its own choice): its objective there is kept, it is
        never the best, and it costs what it ran."""
        number = trial.number if isinstance(trial, Trial) else int(trial)
        self._raw.tell_stopped(number, self._cost(number, cost_seconds))
        self._forget(number)

    def _forget(self, number: int) -> None:
        self._since.pop(number, None)
        self._stop.pop(number, None)
        self._reported_cost.pop(number, None)

    def tell(
        self,
        trial: Union[Trial, int],
        value: float,
        metrics: Optional[Mapping[str, float]] = None,
        report: Optional[float] = None,
        cost_seconds: Optional[float] = None,
    ) -> None:
        """Reports a trial's objective (in any order). ``metrics`` are kept with it, never
        seen by the search; ``report`` is the value reported as the result (e.g. test
        accuracy); ``cost_seconds`` what it cost (default: the time since it was asked)."""
        number = trial.number if isinstance(trial, Trial) else int(trial)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"trial {number}: the objective is a number, not {value!r}")
        m = None
        if metrics is not None:
            m = {str(k): float(v) for k, v in metrics.items()}
        self._raw.tell(number, float(value), None if report is None else float(report), m,
                       self._cost(number, cost_seconds))
        self._forget(number)

    def tell_failed(self, trial: Union[Trial, int], reason: str = "failed") -> None:
        """Reports a failed trial (it counts as a query)."""
        number = trial.number if isinstance(trial, Trial) else int(trial)
        self._raw.tell_failed(number, str(reason))

    def tell_not_evaluable(self, trial: Union[Trial, int]) -> None:
        """Reports a trial that cannot be evaluated (it costs no query)."""
        number = trial.number if isinstance(trial, Trial) else int(trial)
        self._raw.tell_not_evaluable(number)

    def enqueue(self, arch: Any) -> None:
        """Evaluates ``arch`` before anything the algorithm proposes. A stored study keeps it:
        reopening the study needs no repeat (a repeat in the same order is not counted twice)."""
        self._raw.enqueue(self.space._to_json(arch))

    def warm_start(self, pairs: Union[str, Sequence[Tuple[Any, float]]]) -> None:
        """Results known already: a list of ``(arch, objective)``, or the path of a JSON-lines
        file (a run's ``queries.jsonl``) or CSV file with ``arch`` and ``objective``. The
        algorithm learns them and they cost nothing when proposed. A stored study keeps them:
        reopening the study needs no repeat (a repeat in the same order is not learnt twice)."""
        if isinstance(pairs, str):
            self._raw.warm_start_file(pairs)
            return
        out = []
        for arch, objective in pairs:
            if isinstance(objective, bool) or not isinstance(objective, (int, float)):
                raise ValueError(f"objective {objective!r} is not a number")
            out.append((self.space._to_json(arch), float(objective)))
        self._raw.warm_start(out)

    def extend(self, queries: int) -> None:
        """``queries`` more queries (e.g. for a finished study)."""
        if not isinstance(queries, int) or queries < 0:
            raise ValueError(f"queries must be a non-negative int, not {queries!r}")
        self._raw.extend(queries)

    def _record(self, r: Dict[str, Any]) -> Dict[str, Any]:
        r["arch"] = self.space._from_json(json.dumps(r["arch"]))
        return r

    @property
    def trials(self) -> List[Dict[str, Any]]:
        """Told queries (complete, pruned or failed), in the order the algorithm learnt them:
        dicts with number, query, arch, key, state, objective, report, metrics,
        cost_seconds, origin (what proposed it: "initial", "random", "mutated", "enqueued",
        "round N scored", ...), predicted
        (the objective its predictor expected, when one chose it), started and finished (Unix
        seconds, as queries.jsonl), and for trials that reported steps ``steps`` (``[step,
        objective, cost]``) and ``stopped_at`` (pruned), or reason (failed)
        (``pandas.DataFrame(study.trials)`` works)."""
        return [self._record(r) for r in json.loads(self._raw.trials())]

    @property
    def best(self) -> Optional[Dict[str, Any]]:
        """The best complete trial in the study's direction (the earliest among equals)."""
        r = json.loads(self._raw.best())
        return None if r is None else self._record(r)

    @property
    def status(self) -> str:
        """running (ask has a trial), waiting (tell first) or finished:budget|exhausted|stalled."""
        return self._raw.status()


def _is_numpy(x: Any) -> bool:
    return type(x).__module__ == "numpy" and type(x).__name__ == "ndarray"


def _numbers(values: Any, what: str) -> List[float]:
    out = []
    for i, v in enumerate(values.tolist() if _is_numpy(values) else values):
        # numbers.Real: NumPy's scalars (float64, int64) count too.
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise ValueError(f"{what} {i} is not a number: {v!r}")
        out.append(float(v))
    return out


class Predictor:
    """The SemiNAS predictor on its own, for other search algorithms and for predictor
    comparisons (NASLib style).

    ``Predictor(space, seed=0, **settings)``: settings are ``pretrain_epochs`` (100: epochs on
    the evaluated pairs), ``train_epochs`` (10: epochs with the pseudo-labelled ones),
    ``upsample`` (10: repeats of the evaluated pairs among them), ``clip_quantile`` (0:
    targets below this quantile are raised to it), and the controller's ``hidden`` (32 for
    NB201's short encoding, 64 for long ones), ``mlp_hidden``, ``batch_size``, ``lr``,
    ``dropout``, ``trade_off``. Every random choice flows from ``seed``: the same data give
    the same predictor. The GIL is released while it computes; Ctrl-C stops a ``fit``
    between epochs (KeyboardInterrupt; the predictor keeps its previous state).
    """

    def __init__(self, space: _Space, seed: int = 0, **settings: Any) -> None:
        if not isinstance(space, _Space):
            raise ValueError(f"space must be a seminas space, not {space!r}")
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, not {seed!r}")
        self.space = space
        self._raw = _seminas.RawPredictor(space._raw, seed, json.dumps(settings))

    def _archs(self, archs: Any) -> List[str]:
        if isinstance(archs, (str, bytes, Mapping)):
            raise ValueError("give a list of architectures, not a single one")
        return [self.space._to_json(a) for a in (archs.tolist() if _is_numpy(archs) else archs)]

    def fit(self, archs: Sequence[Any], targets: Sequence[float],
            unlabeled: Union[int, Sequence[Any]] = 10000) -> "Predictor":
        """Fits on evaluated ``archs`` and their ``targets`` (regressed as given; at least
        2), then pseudo-labels ``unlabeled``: that many distinct architectures sampled from
        the space (none of ``archs``), or the given list, and trains on both (SemiNAS's
        semi-supervised step, as a search runs it; with ``unlabeled=0`` the second training
        is on the repeated pairs alone, as NAO's). Each fit starts afresh. Returns the
        predictor."""
        a = self._archs(archs)
        t = _numbers(targets, "target")
        if isinstance(unlabeled, bool):
            raise ValueError(f"unlabeled is a count or a list of architectures, not {unlabeled!r}")
        if isinstance(unlabeled, int):
            if unlabeled < 0:
                raise ValueError(f"unlabeled must be >= 0, not {unlabeled}")
            self._raw.fit(a, t, sample=unlabeled)
        else:
            self._raw.fit(a, t, given=self._archs(unlabeled))
        return self

    def predict(self, archs: Sequence[Any]) -> Any:
        """Predicted objectives of ``archs``: a list, or a NumPy array when ``archs`` is one.
        (For a controller loaded from a run directory: standardised values, see
        ``has_scale``.)"""
        values = self._raw.predict(self._archs(archs))
        if _is_numpy(archs):
            import numpy

            return numpy.asarray(values, dtype=float)
        return values

    def generate(self, archs: Sequence[Any], step: float = 1.0) -> List[Any]:
        """SemiNAS's generation: moves each architecture's embedding up the predictor's
        gradient by ``step`` (down for a negative one) and decodes it. Returns one
        architecture per input, or None where the decoded tokens are not a valid architecture
        of the space (possible for NB101 and a FLOPs-limited mobile space)."""
        if isinstance(step, bool) or not isinstance(step, (int, float)) or not math.isfinite(step):
            raise ValueError(f"step must be a finite number, not {step!r}")
        out = self._raw.generate(self._archs(archs), float(step))
        return [None if g is None else self.space._from_json(g) for g, _ in out]

    def save(self, path: str) -> None:
        """Writes the fitted predictor as a safetensors file: the controller's format (the
        one ``seminas search --out DIR`` keeps in its run store) plus the target scale and the
        settings."""
        self._raw.save(str(path))

    @classmethod
    def load(cls, path: str, space: Optional[_Space] = None) -> "Predictor":
        """Reads a file written by ``save``, or a SemiNAS run directory's newest controller
        (``seminas search --algo seminas --out DIR``: predicts standardised objectives).
        ``space`` may be left out for NB201 and NB101 (give a categorical or mobile space: its
        choices or FLOPs limit are not in the file)."""
        path = str(path)
        if space is None:
            name = _seminas.predictor_space(path)
            known = {"nb201": NB201Space, "nb101": NB101Space}
            if name is None:
                # A bare controller: the space whose encoding it reads (lengths differ).
                errors = []
                for make in (NB201Space, NB101Space, MobileSpace):
                    try:
                        return cls._from_raw(make(), _seminas.RawPredictor.load(make()._raw, path))
                    except ValueError as e:
                        errors.append(str(e))
                raise ValueError(f"{path}: give its space (space=...): " + "; ".join(errors))
            if name not in known:
                raise ValueError(f"{path} is a predictor of space {name!r}: give it as space=...")
            space = known[name]()
        return cls._from_raw(space, _seminas.RawPredictor.load(space._raw, path))

    @classmethod
    def _from_raw(cls, space: _Space, raw: Any) -> "Predictor":
        p = cls.__new__(cls)
        p.space = space
        p._raw = raw
        return p

    @property
    def fitted(self) -> bool:
        """True once fitted or loaded."""
        return self._raw.fitted

    @property
    def has_scale(self) -> bool:
        """True when predictions are in the targets' units (False for a controller from a
        run directory: standardised values, the same ranking)."""
        return self._raw.has_scale

    def __repr__(self) -> str:
        return f"Predictor({self.space!r}, fitted={self.fitted})"


Objective = Callable[[Any], Union[float, Tuple[float, Mapping[str, float]]]]


def optimize(
    space: _Space,
    fn: Objective,
    budget: Optional[int] = None,
    workers: int = 1,
    algo: str = "seminas-ens",
    seed: int = 0,
    storage: Optional[str] = None,
    direction: str = "maximize",
    **settings: Any,
) -> Study:
    """Runs a study to its end: ``fn(arch)`` returns the objective, or ``(objective,
    metrics)``; an exception is a failed trial. ``fn(arch, trial)`` (a function of two
    arguments) may report steps with ``trial.report(step, value)`` and raise
    ``TrialPruned`` when that answers True. ``workers`` calls run at once in threads (the
    trials are those of ``seminas search --workers N``). Other keyword arguments are the
    study's (``fidelities``, ``max_step``, ``prune``, ``budget_seconds``, the algorithm's
    settings). Returns the study."""
    study = Study(space, algo=algo, budget=budget, seed=seed, storage=storage,
                  workers=workers, direction=direction, **settings)
    try:
        import inspect

        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        with_trial = len(params) >= 2
    except (TypeError, ValueError):
        with_trial = False

    def run(trial: Trial) -> Tuple[Trial, Any, Optional[BaseException]]:
        try:
            return trial, fn(trial.arch, trial) if with_trial else fn(trial.arch), None
        except Exception as e:  # a failed or pruned trial, not a dead study
            return trial, None, e

    def tell(trial: Trial, result: Any, error: Optional[BaseException]) -> None:
        if isinstance(error, TrialPruned):
            study.tell_pruned(trial)
        elif error is not None:
            study.tell_failed(trial, f"{type(error).__name__}: {error}")
        elif isinstance(result, tuple):
            value, metrics = result
            study.tell(trial, value, metrics=metrics)
        else:
            study.tell(trial, result)

    if workers <= 1:
        while (trial := study.ask()) is not None:
            tell(*run(trial))
        return study
    with ThreadPoolExecutor(max_workers=workers) as pool:
        running = set()
        while True:
            while (trial := study.ask()) is not None:
                running.add(pool.submit(run, trial))
            if not running:
                break
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for f in done:
                tell(*f.result())
    return study
