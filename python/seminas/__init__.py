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
Python values: a str for NB201 (the official cell string), a dict for categorical spaces and
``{"matrix": [[...]], "ops": [...]}`` for NB101.
"""

from __future__ import annotations

import json
import math
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from . import _seminas
from . import benchmarks

__all__ = [
    "NB201Space",
    "NB101Space",
    "CategoricalSpace",
    "Study",
    "Trial",
    "optimize",
    "benchmarks",
    "ALGORITHMS",
]

__version__ = _seminas.__version__

#: The search algorithms, as ``algo=`` names them.
ALGORITHMS = ("random", "re", "nao", "seminas", "seminas-re")


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


def _settings_json(settings: Mapping[str, Any]) -> str:
    return json.dumps(dict(settings))


class Study:
    """A search in ask/tell form.

    ``algo``: random, re, nao, seminas or seminas-re. ``budget``: queries (evaluations of
    distinct architectures; a repeat costs nothing, a failure counts). ``workers``: trials
    evaluated at once; ``ask`` returns None while that many wait to be told.
    ``storage``: a folder holding the study (SQLite); reopening it with the same arguments
    resumes it (told trials are kept, asked but untold ones are asked again first).
    ``direction``: "maximize" or "minimize". Other keyword arguments are the algorithm's
    settings (population, tournament, init, pseudo, top_k, per_round, pretrain_epochs,
    controller_epochs, upsample, controller_hidden, children, retrain_every, preset).
    """

    def __init__(
        self,
        space: _Space,
        algo: str = "seminas",
        budget: int = 100,
        seed: int = 0,
        storage: Optional[str] = None,
        workers: int = 1,
        direction: str = "maximize",
        **settings: Any,
    ) -> None:
        if not isinstance(space, _Space):
            raise ValueError(f"space must be a seminas space, not {space!r}")
        if direction not in ("maximize", "minimize"):
            raise ValueError(f"direction is 'maximize' or 'minimize', not {direction!r}")
        for name, n in (("budget", budget), ("seed", seed), ("workers", workers)):
            if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                raise ValueError(f"{name} must be a non-negative int, not {n!r}")
        self.space = space
        self.direction = direction
        self._asked: Dict[int, Trial] = {}
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
        )

    def ask(self) -> Optional[Trial]:
        """The next trial, or None: the budget is spent, the space exhausted, or ``workers``
        trials wait to be told (see ``status``)."""
        out = self._raw.ask()
        if out is None:
            return None
        number, arch, key, workdir = out
        trial = Trial(number, self.space._from_json(arch), key, None if workdir is None else str(workdir))
        self._asked[number] = trial
        return trial

    def tell(
        self,
        trial: Union[Trial, int],
        value: float,
        metrics: Optional[Mapping[str, float]] = None,
        report: Optional[float] = None,
    ) -> None:
        """Reports a trial's objective (in any order). ``metrics`` are kept with it, never
        seen by the search; ``report`` is the value reported as the result (e.g. test
        accuracy)."""
        number = trial.number if isinstance(trial, Trial) else int(trial)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"trial {number}: the objective is a number, not {value!r}")
        m = None
        if metrics is not None:
            m = {str(k): float(v) for k, v in metrics.items()}
        self._raw.tell(number, float(value), None if report is None else float(report), m)

    def tell_failed(self, trial: Union[Trial, int], reason: str = "failed") -> None:
        """Reports a failed trial (it counts as a query)."""
        number = trial.number if isinstance(trial, Trial) else int(trial)
        self._raw.tell_failed(number, str(reason))

    def tell_not_evaluable(self, trial: Union[Trial, int]) -> None:
        """Reports a trial that cannot be evaluated (it costs no query)."""
        number = trial.number if isinstance(trial, Trial) else int(trial)
        self._raw.tell_not_evaluable(number)

    def enqueue(self, arch: Any) -> None:
        """Evaluates ``arch`` before anything the algorithm proposes (enqueue again when
        reopening a stored study)."""
        self._raw.enqueue(self.space._to_json(arch))

    def warm_start(self, pairs: Union[str, Sequence[Tuple[Any, float]]]) -> None:
        """Results known already: a list of ``(arch, objective)``, or the path of a JSON-lines
        file (a run's ``queries.jsonl``) or CSV file with ``arch`` and ``objective``. The
        algorithm learns them and they cost nothing when proposed."""
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
        """Told queries (complete or failed), in the order the algorithm learnt them: dicts
        with number, query, arch, key, state, objective, report, metrics or reason
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


Objective = Callable[[Any], Union[float, Tuple[float, Mapping[str, float]]]]


def optimize(
    space: _Space,
    fn: Objective,
    budget: int = 100,
    workers: int = 1,
    algo: str = "seminas",
    seed: int = 0,
    storage: Optional[str] = None,
    direction: str = "maximize",
    **settings: Any,
) -> Study:
    """Runs a study to its end: ``fn(arch)`` returns the objective, or ``(objective,
    metrics)``; an exception is a failed trial. ``workers`` calls run at once in threads (the
    trials are those of ``seminas search --workers N``). Returns the study."""
    study = Study(space, algo=algo, budget=budget, seed=seed, storage=storage,
                  workers=workers, direction=direction, **settings)

    def run(trial: Trial) -> Tuple[Trial, Any, Optional[BaseException]]:
        try:
            return trial, fn(trial.arch), None
        except Exception as e:  # a failed trial, not a dead study
            return trial, None, e

    def tell(trial: Trial, result: Any, error: Optional[BaseException]) -> None:
        if error is not None:
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
