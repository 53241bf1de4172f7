"""The window's start on Linux: a missing Qt system library or display is named, not an abort."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app import qt_libraries
from app.qt_libraries import window_problem

REPO = Path(__file__).resolve().parents[1]
MISSING = "libxcb-cursor.so.0: cannot open shared object file: No such file or directory"


@pytest.fixture
def plugin(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A stand-in xcb plugin; append a loader error to make it fail to load."""
    errors: list[str] = []

    def load(path: str, mode: int = 0) -> object:
        if errors:
            raise OSError(errors[0])
        return object()

    monkeypatch.setattr(qt_libraries, "_xcb_plugin", lambda: Path("/qt/libqxcb.so"))
    monkeypatch.setattr(qt_libraries.ctypes, "CDLL", load)
    return errors


def test_a_missing_library_is_named_with_what_to_install(plugin: list[str]) -> None:
    plugin.append(MISSING)
    for environ in ({"DISPLAY": ":0"}, {"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}):
        problem = window_problem(environ, "linux")
        assert problem is not None and "libxcb-cursor.so.0" in problem
        assert "sudo apt-get install libxcb-cursor0 libxkbcommon-x11-0" in problem


def test_no_display_is_named(plugin: list[str]) -> None:
    assert "DISPLAY is not set" in window_problem({}, "linux")
    assert window_problem({"DISPLAY": ":0"}, "linux") is None


@pytest.mark.parametrize(
    ("environ", "platform"),
    [
        ({"QT_QPA_PLATFORM": "offscreen"}, "linux"),
        ({"WAYLAND_DISPLAY": "wayland-0"}, "linux"),
        ({}, "darwin"),
        ({}, "win32"),
    ],
)
def test_other_platforms_are_left_to_qt(plugin: list[str], environ: dict, platform: str) -> None:
    plugin.append(MISSING)
    assert window_problem(environ, platform) is None


@pytest.mark.skipif(sys.platform != "linux", reason="Qt's xcb plugin is Linux's")
def test_the_window_without_a_display_exits_with_a_message_not_an_abort(tmp_path: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")
    }
    env["VITRINA_HOME"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "app", "--db", str(tmp_path / "c.sqlite")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "vitrina: the window cannot start" in done.stderr
    assert "Qt platform plugin" not in done.stderr
