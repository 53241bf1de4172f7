"""The `vitrina` command line driven in-process: ``main([...])`` on one catalog and bundle."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from app import cli


class Run:
    """Calls ``cli.main`` on one catalog and bundle, capturing stdout and stderr."""

    def __init__(self, db: Path, bundle: Path) -> None:
        self.db, self.bundle = db, bundle
        self.out = self.err = ""

    def __call__(self, *args: str, bundle: Path | None = None) -> int:
        out, err = io.StringIO(), io.StringIO()
        base = ["--db", str(self.db), "--bundle", str(bundle or self.bundle)]
        code = cli.main([*base, *args], out=out, err=err)
        self.out, self.err = out.getvalue(), err.getvalue()
        assert "Traceback" not in self.out + self.err
        return code

    def full(self, *args: str) -> tuple[int, str, str]:
        """The exit code with what it printed, for tests that unpack all three."""
        code = self(*args)
        return code, self.out, self.err


@pytest.fixture
def run(tmp_path: Path, tiny_bundle: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setenv("VITRINA_HOME", str(tmp_path / "home"))
    return Run(tmp_path / "catalog.sqlite", tiny_bundle)
