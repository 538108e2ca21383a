"""Tabular benchmarks: look architectures up instead of training them."""

from __future__ import annotations

import json
from typing import Any, Dict

from . import _seminas


class Table:
    """A benchmark table: ``query(arch)`` gives every recorded metric of an architecture,
    with ``objective`` (what a search maximises) and ``report`` (what is reported)."""

    def __init__(self, raw: Any, space: Any) -> None:
        self._raw = raw
        self.space = space

    def query(self, arch: Any) -> Dict[str, float]:
        """The architecture's metrics (ValueError when it is not in the table)."""
        return json.loads(self._raw.query(self.space._to_json(arch)))

    def __len__(self) -> int:
        return len(self._raw)


def nb201(dataset: str = "cifar10") -> Table:
    """An embedded NAS-Bench-201 table (all 15,625 cells) of ``dataset``: ``"cifar10"``,
    ``"cifar100"`` or ``"imagenet16-120"``. objective = validation accuracy, report = test
    accuracy (CIFAR-10: the cifar10-valid split's validation set and the full-training test
    set; the others: the two halves of their evaluation set). ValueError for another name."""
    from . import NB201Space

    return Table(_seminas.Table.nb201(dataset), NB201Space())
