"""Every code block of docs/extending.md runs (in order, in one namespace) and its asserts hold."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "extending.md"


def blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def test_examples_are_short():
    assert len(blocks()) >= 6
    for code in blocks()[1:]:  # the shared set-up block aside
        assert len(code.strip().splitlines()) <= 15, code


def test_examples_run():
    namespace: dict = {}
    for code in blocks():
        exec(compile(code, str(DOC), "exec"), namespace)  # noqa: S102
