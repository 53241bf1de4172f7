"""Why the window cannot start on Linux, found before Qt aborts the whole process.

When a system library that Qt's X11 plugin (xcb) links is missing, or there is no display,
Qt prints "could not load the Qt platform plugin" and aborts (exit 134): no exception to
catch and no word on what to install. Loading the plugin's shared object first names the
missing library, so the message can say which packages to install.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
from collections.abc import Mapping
from pathlib import Path

# What Qt 6's xcb plugin and Qt Gui need on Debian and Ubuntu (Qt's "Qt for X11" list).
DEBIAN_PACKAGES = (
    "libxcb-cursor0",
    "libxkbcommon-x11-0",
    "libxcb-icccm4",
    "libxcb-image0",
    "libxcb-keysyms1",
    "libxcb-randr0",
    "libxcb-render-util0",
    "libxcb-shape0",
    "libxcb-xinerama0",
    "libxcb-xkb1",
    "libegl1",
    "libgl1",
    "libfontconfig1",
    "libdbus-1-3",
)


def install_hint() -> str:
    """What to install, for messages about missing Qt system libraries."""
    return (
        f"On Debian or Ubuntu: sudo apt-get install {' '.join(DEBIAN_PACKAGES)}; elsewhere, "
        "the packages that provide the library named (README: Install). The command line "
        "works without them (vitrina --help)."
    )


def window_problem(
    environ: Mapping[str, str] = os.environ, platform: str = sys.platform
) -> str | None:
    """Why Qt would abort instead of opening the window, as a sentence; None when it
    should start (or when there is no telling: another platform, Wayland, Windows)."""
    chosen = environ.get("QT_QPA_PLATFORM", "")
    if platform != "linux" or (chosen and not chosen.startswith("xcb")):
        return None
    if not chosen and environ.get("WAYLAND_DISPLAY"):
        return None  # Qt tries Wayland first there
    missing = _missing_library()
    if missing:
        return (
            f"the window cannot start: Qt's X11 plugin needs the system library {missing}, "
            f"which is not installed (and likely others). {install_hint()}"
        )
    if not environ.get("DISPLAY"):
        return (
            "the window cannot start: there is no display (DISPLAY is not set). Start "
            "vitrina from a desktop session, or over `ssh -X`; the command line works "
            "without one (vitrina --help)."
        )
    return None


def _missing_library() -> str | None:
    """The first library the xcb plugin cannot load, as the dynamic loader names it."""
    plugin = _xcb_plugin()
    if plugin is None:
        return None
    try:
        ctypes.CDLL(str(plugin), mode=os.RTLD_LAZY | os.RTLD_LOCAL)
    except OSError as exc:
        return str(exc).split(":", 1)[0].strip() or str(exc)
    return None


def _xcb_plugin() -> Path | None:
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    plugin = Path(spec.submodule_search_locations[0], "Qt", "plugins", "platforms", "libqxcb.so")
    return plugin if plugin.is_file() else None
