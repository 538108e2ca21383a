"""SemiNAS inside Optuna: ``SemiNASSampler``, an ``optuna.samplers.BaseSampler``.

A study that already uses Optuna changes one line::

    import optuna, seminas.optuna
    study = optuna.create_study(direction="maximize", sampler=seminas.optuna.SemiNASSampler(seed=0))
    study.optimize(objective, n_trials=100)   # objective calls trial.suggest_categorical(...)

How it samples (see docs/optuna.md):

- The relative search space is the intersection of the parameters of the study's COMPLETE
  trials that the algorithm can model: categorical parameters (any choices), integer
  parameters and stepped float parameters with at most ``MAX_NUMERIC_CHOICES`` values (each
  value is a choice). Everything else (continuous ranges, parameters that appear only in some
  trials, the first trial's parameters) goes to the independent ``fallback`` sampler.
- Each trial, a fresh searcher of ``algo`` is seeded from ``(seed, trial number)``, learns the
  COMPLETE trials in trial order (``direction`` respected), and the PRUNED trials' last
  intermediate values as trainings stopped early (as TPE uses them: known to be among the
  worse; SemiNAS-Ens fits them at the lowest complete value), and is asked until it proposes
  an architecture that is not evaluated yet and not held by a PRUNED, RUNNING or WAITING trial
  (so trials running in parallel never get the same parameters). FAILED trials are ignored,
  as Optuna's own samplers ignore them (a failed architecture may be proposed again). The
  first ``n_startup_trials`` complete trials are drawn at random (without repeats). An
  algorithm that chooses several architectures per predictor fit (SemiNAS-Ens: ``budget/50``)
  does so here too: the searcher of a round is seeded from the round and learns the results
  known when the round began, so each trial of the round takes the round's next choice.
- Nothing that decides a proposal is kept between trials (only what cannot change: the
  space's listing and finished trials' encodings): resuming a stored study in another
  process, or sampling from several threads (``n_jobs > 1``), is safe, and the same seed
  gives the same trials.

``optuna`` is imported here only, so ``import seminas`` works without it.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.samplers import BaseSampler, RandomSampler
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from . import _seminas

__all__ = ["SemiNASSampler", "MAX_NUMERIC_CHOICES"]

#: Integer and stepped float parameters with at most this many values are modelled (each value
#: a choice); larger ranges go to the fallback sampler.
MAX_NUMERIC_CHOICES = 64

_LOGGER = optuna.logging.get_logger(__name__)


def _derive_seed(*parts: Any) -> int:
    """A 64-bit seed from the sampler's seed and what identifies one decision."""
    text = "/".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


def _numeric_values(d: BaseDistribution) -> Optional[List[Any]]:
    """The values of a discrete numeric distribution, or None when it is not modelled."""
    if isinstance(d, IntDistribution):
        n = (d.high - d.low) // d.step + 1
        if n > MAX_NUMERIC_CHOICES:
            return None
        return [d.low + i * d.step for i in range(n)]
    if isinstance(d, FloatDistribution) and d.step is not None:
        n = int(round((d.high - d.low) / d.step)) + 1
        if n > MAX_NUMERIC_CHOICES:
            return None
        return [min(d.high, d.low + i * d.step) for i in range(n)]
    return None


def _modelled(d: BaseDistribution) -> bool:
    if d.single():
        return False
    return isinstance(d, CategoricalDistribution) or _numeric_values(d) is not None


def _choice_names(values: Sequence[Any]) -> List[str]:
    """Names of the choices of one position: their text where it is a usable, distinct name
    (a choice named alike at two positions shares nothing but the name), else their index."""
    names = [str(v) for v in values]
    usable = all(
        n and n.strip() == n and "," not in n and "=" not in n and n.isprintable() for n in names
    )
    if usable and len(set(names)) == len(names):
        return names
    return [f"#{i}" for i in range(len(values))]


class _Codec:
    """Maps the parameters of one relative search space to choice indices and back, with the
    Rust proposer of that space."""

    def __init__(self, space: Dict[str, BaseDistribution], algo: str, budget: int, settings: str):
        self.names = list(space)
        self.dists = [space[n] for n in self.names]
        self.values: List[List[Any]] = []
        for d in self.dists:
            if isinstance(d, CategoricalDistribution):
                self.values.append(list(d.choices))
            else:
                values = _numeric_values(d)
                assert values is not None
                self.values.append(values)
        self.reprs = [repr(d) for d in self.dists]
        self.proposer = _seminas.Proposer(
            [_choice_names(v) for v in self.values], algo, budget, settings
        )
        # (study, trial number) -> the encoding of a finished trial, which cannot change.
        self._finished: Dict[Tuple[str, int], Optional[List[int]]] = {}

    def _index(self, d: BaseDistribution, value: Any) -> Optional[int]:
        if isinstance(d, CategoricalDistribution):
            return int(d.to_internal_repr(value))
        step = d.step  # type: ignore[attr-defined]
        i = int(round((value - d.low) / step))  # type: ignore[attr-defined]
        return i if 0 <= i < len(_numeric_values(d) or ()) else None

    def encode(
        self, params: Dict[str, Any], dists: Optional[Dict[str, Tuple[str, BaseDistribution]]]
    ) -> Optional[List[int]]:
        """The choice indices of a trial's parameters, or None when it lacks one of them (or,
        given the repr and distribution of each of its parameters, drew it from another
        distribution)."""
        out = []
        for name, d, r in zip(self.names, self.dists, self.reprs):
            if name not in params:
                return None
            if dists is not None and (name not in dists or dists[name][0] != r):
                return None
            try:
                i = self._index(d, params[name])
            except (ValueError, TypeError):
                return None
            if i is None:
                return None
            out.append(i)
        return out

    def encode_trial(
        self,
        key: Tuple[str, int],
        t: FrozenTrial,
        dists: Callable[[], Dict[str, Tuple[str, BaseDistribution]]],
    ) -> Optional[List[int]]:
        """``encode`` of a trial's parameters (``dists``: the repr and distribution of each),
        remembered once the trial is finished."""
        finished = t.state.is_finished()
        if finished and key in self._finished:
            return self._finished[key]
        arch = self.encode(t.params, dists())
        if finished:
            self._finished[key] = arch
        return arch

    def decode(self, indices: Sequence[int]) -> Dict[str, Any]:
        return {n: v[i] for n, v, i in zip(self.names, self.values, indices)}


class SemiNASSampler(BaseSampler):
    """An Optuna sampler that proposes with a seminas search algorithm.

    ``seed``: every choice of the sampler flows from it (and the trial number). ``algo``: any
    algorithm of ``seminas search --algo`` (seminas-ens, seminas, seminas-re, nao, re,
    random). ``fallback``: the independent sampler of the parameters the algorithm cannot
    model (default: ``optuna.samplers.RandomSampler`` seeded from ``seed`` and the trial).
    ``n_startup_trials``: complete trials drawn at random before the algorithm proposes.
    ``budget``: the number of trials the algorithm's settings are scaled for (as
    ``seminas search --queries``). ``warn_independent_sampling``: log once per parameter
    that goes to the fallback after the startup trials. Other keyword arguments are the
    algorithm's settings, as ``seminas.Study`` takes them (``population=20``, ``pseudo=1000``...).
    """

    def __init__(
        self,
        seed: int = 0,
        algo: str = "seminas-ens",
        fallback: Optional[BaseSampler] = None,
        n_startup_trials: int = 10,
        budget: int = 100,
        warn_independent_sampling: bool = True,
        **settings: Any,
    ) -> None:
        for name, n in (("seed", seed), ("n_startup_trials", n_startup_trials), ("budget", budget)):
            if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                raise ValueError(f"{name} must be a non-negative int, not {n!r}")
        if budget < 1:
            raise ValueError("budget must be at least 1")
        if fallback is not None and not isinstance(fallback, BaseSampler):
            raise ValueError(f"fallback must be an Optuna sampler, not {fallback!r}")
        self._seed = seed
        self._algo = algo
        self._fallback = fallback
        self._n_startup = n_startup_trials
        self._budget = budget
        self._warn = warn_independent_sampling
        self._settings = json.dumps(dict(settings))
        # Checks the algorithm and its settings now rather than at the first trial.
        _seminas.Proposer([["a", "b"]], algo, budget, self._settings)
        self._lock = threading.Lock()
        self._codecs: "OrderedDict[Tuple[Tuple[str, str], ...], _Codec]" = OrderedDict()
        self._warned: set = set()
        # Trial number -> the proposal given to it (dropped when the trial fails).
        self._reserved: Dict[int, Tuple[_Codec, List[int]]] = {}
        # (study, trial number) -> the repr and distribution of each modelled parameter of a
        # finished trial: comparing distributions by repr, once per trial, rather than with
        # Optuna's __eq__ at every trial, keeps a long study's sampling linear.
        self._dists: Dict[Tuple[str, int], Dict[str, Tuple[str, BaseDistribution]]] = {}

    def __repr__(self) -> str:
        return f"SemiNASSampler(seed={self._seed}, algo={self._algo!r})"

    def _codec(self, space: Dict[str, BaseDistribution]) -> _Codec:
        key = tuple((n, repr(d)) for n, d in space.items())
        with self._lock:
            codec = self._codecs.get(key)
            if codec is not None:
                self._codecs.move_to_end(key)
                return codec
        codec = _Codec(space, self._algo, self._budget, self._settings)
        with self._lock:
            self._codecs[key] = codec
            while len(self._codecs) > 8:  # a changing search space keeps only recent ones
                self._codecs.popitem(last=False)
        return codec

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> Dict[str, BaseDistribution]:
        if len(study.directions) > 1:
            raise ValueError("SemiNASSampler optimises one objective; this study has "
                             f"{len(study.directions)}")
        space: Optional[Dict[str, Tuple[str, BaseDistribution]]] = None
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            dists = self._modelled(study, t)
            if space is None:
                space = dict(dists)
            else:
                space = {n: v for n, v in space.items() if n in dists and dists[n][0] == v[0]}
            if not space:
                return {}
        return dict(sorted((n, d) for n, (_, d) in (space or {}).items()))

    def _modelled(self, study: optuna.Study, t: FrozenTrial) -> Dict[str, Tuple[str, BaseDistribution]]:
        """The repr and distribution of each parameter of ``t`` the algorithm can model."""
        key = (study.study_name, t.number)
        cached = self._dists.get(key)
        if cached is not None:
            return cached
        dists = {n: (repr(d), d) for n, d in t.distributions.items() if _modelled(d)}
        if t.state.is_finished():
            self._dists[key] = dists
        return dists

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: Dict[str, BaseDistribution]
    ) -> Dict[str, Any]:
        if not search_space:
            return {}
        fixed = trial.system_attrs.get("fixed_params") or {}
        if all(n in fixed for n in search_space):
            return {}  # an enqueued trial: nothing to propose
        codec = self._codec(search_space)
        minimize = study.direction == StudyDirection.MINIMIZE
        complete: List[Tuple[List[int], float]] = []
        pruned: List[Tuple[List[int], int, float]] = []
        avoid: List[List[int]] = []
        for t in study.get_trials(deepcopy=False):
            if t.number == trial.number or t.state == TrialState.FAIL:
                continue  # failed trials are ignored, as by Optuna's own samplers
            if t.state == TrialState.WAITING:
                arch = codec.encode(t.system_attrs.get("fixed_params") or {}, None)
            else:
                arch = codec.encode_trial(
                    (study.study_name, t.number), t, lambda: self._modelled(study, t))
            if arch is None:
                continue
            value = t.value if t.state == TrialState.COMPLETE else None
            if value is not None and math.isfinite(value):
                complete.append((arch, -value if minimize else value))
            elif t.state == TrialState.PRUNED and t.intermediate_values:
                # As TPE: a pruned trial's last intermediate value says it is among the worse.
                step = max(t.intermediate_values)
                v = t.intermediate_values[step]
                if math.isfinite(v) and step >= 1:
                    pruned.append((arch, int(step), -v if minimize else v))
                else:
                    avoid.append(arch)
            else:  # pruned without values, running, waiting, or an infinite value
                avoid.append(arch)
        startup = len(complete) < self._n_startup
        seed = _derive_seed(self._seed, trial.number)
        k = codec.proposer.round_size
        this_round: List[List[int]] = []
        if not startup and k > 1:
            # Rounds as in `seminas search`: the predictor is fitted on the results known when
            # the round began, with the same seed, so the round's choices are the same at each
            # of its trials, and a trial takes the first of them not evaluated yet.
            start = self._n_startup + (len(complete) - self._n_startup) // k * k
            this_round = [a for a, _ in complete[start:]]
            complete = complete[:start]
            seed = _derive_seed(self._seed, "round", start)
        # What this sampler gave other trials is reserved: a trial sampled in another thread
        # may not be in the storage's snapshot read above (its objective has not suggested its
        # parameters yet, or it finished since).
        taken = ({tuple(a) for a, _ in complete} | {tuple(a) for a in avoid + this_round}
                 | {tuple(a) for a, _, _ in pruned})
        while True:
            with self._lock:
                reserved = [r for r in self._reserved_for(codec, trial.number) if tuple(r) not in taken]
            indices = codec.proposer.propose(seed, startup, complete, avoid + reserved, this_round,
                                             pruned)
            with self._lock:
                if indices is None or indices not in self._reserved_for(codec, trial.number):
                    if indices is not None:
                        self._reserved[trial.number] = (codec, indices)
                    break
        if indices is None:
            return {}  # every combination is taken: the fallback samples
        return codec.decode(indices)

    def _reserved_for(self, codec: _Codec, number: int) -> List[List[int]]:
        return [i for n, (c, i) in self._reserved.items() if c is codec and n != number]

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        if self._warn and param_name not in self._warned:
            complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if len(complete) >= max(self._n_startup, 1):
                self._warned.add(param_name)
                _LOGGER.warning(
                    f"The parameter {param_name!r} in trial {trial.number} is sampled by the "
                    "fallback sampler, not by SemiNASSampler (it is a continuous range or a "
                    "large numeric range, or not every complete trial has it with this "
                    "distribution). Pass warn_independent_sampling=False to silence this."
                )
        if self._fallback is not None:
            return self._fallback.sample_independent(study, trial, param_name, param_distribution)
        # A sampler per decision keeps the draws independent of thread timing and process.
        random = RandomSampler(seed=_derive_seed(self._seed, trial.number, param_name) % 2**32)
        return random.sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        if self._fallback is not None:
            self._fallback.before_trial(study, trial)

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Optional[Sequence[float]],
    ) -> None:
        if state == TrialState.FAIL:
            # A failed trial is as if deleted: its parameters may be proposed again.
            with self._lock:
                self._reserved.pop(trial.number, None)
        if self._fallback is not None:
            self._fallback.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        # The sampler's own choices are seeded per trial; only a user's fallback has a stream.
        if self._fallback is not None:
            self._fallback.reseed_rng()
