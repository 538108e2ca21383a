"""Helpers several test files share (the test folder is on sys.path when pytest runs them)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def python_blocks():
    """The ```python blocks of the README and the docs pages."""
    pages = [REPO / "README.md"] + sorted((REPO / "docs").glob("*.md"))
    return [b.split("```", 1)[0] for p in pages for b in p.read_text().split("```python\n")[1:]]


def untimed(rows):
    """Trials without their start and finish times (which differ between runs)."""
    return [{k: v for k, v in r.items() if k not in ("started", "finished")} for r in rows]
