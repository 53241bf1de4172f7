"""The `vitrina` command line: the same core as the window, for scripts and batch work.

Exit codes: 0 all good, 1 some files failed (import, xmp, reindex), 2 usage or fatal
error, 130 interrupted. A VitrinaError is printed as one message, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import traceback
from collections.abc import Sequence
from typing import Any, TextIO

from app.cli_commands import COMMANDS
from app.core.context import AppContext
from app.core.errors import VitrinaError

OK, SOME_FAILED, FATAL, INTERRUPTED = 0, 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also the source of `vitrina --help`)."""
    parser = argparse.ArgumentParser(
        prog="vitrina",
        description="Tag product photos with CNN models and find similar products. "
        "With no command, open the window.",
    )
    parser.add_argument("--db", metavar="PATH_OR_URL", help="catalog file or SQLAlchemy URL")
    parser.add_argument(
        "--bundle", metavar="PATH", help="model bundle folder (default: models_onnx/default)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_to(sub)
    return parser


class Console:
    """Where a command writes: results on ``out``, problems and progress on ``err``."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr

    def print(self, *parts: object) -> None:
        print(*parts, file=self.out)

    def warn(self, *parts: object) -> None:
        print(*parts, file=self.err)


class Interrupt:
    """First Ctrl-C asks the running command to stop between files; the second one aborts."""

    def __init__(self) -> None:
        self.requested = False
        self._installed = False
        self._previous: Any = None

    def __call__(self) -> bool:
        return self.requested

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nStopping after the current photo (Ctrl-C again to abort)...", file=sys.stderr)

    def __enter__(self) -> Interrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous or signal.default_int_handler)


def _open_window(args: argparse.Namespace, console: Console) -> int:
    try:
        from app.ui.main import run
    except ImportError as exc:
        console.warn(
            f"vitrina: the window cannot start ({exc}). Use a command instead; "
            "see `vitrina --help`."
        )
        return FATAL
    return int(run(db=args.db, bundle=args.bundle) or OK)


def main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run one command; returns the exit code (the console script exits with it)."""
    console = Console(out, err)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if args.command is None:
        return _open_window(args, console)
    ctx = None
    try:
        with Interrupt() as interrupt:
            ctx = AppContext.open(args.db, args.bundle)
            code = args.run(args, ctx, console, interrupt)
            return INTERRUPTED if interrupt.requested else code
    except VitrinaError as exc:
        console.warn(f"vitrina: {exc}")
        return FATAL
    except KeyboardInterrupt:
        console.warn("vitrina: interrupted; everything written so far is saved.")
        return INTERRUPTED
    except BrokenPipeError:
        # The reader stopped early (`vitrina show 1 | head`): not this command's error. The
        # rest of the output goes nowhere, so exiting does not fail on it again.
        if console.out is sys.stdout:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return OK
    except Exception as exc:
        if os.environ.get("VITRINA_DEBUG"):
            traceback.print_exc(file=console.err)
        console.warn(
            f"vitrina: unexpected error ({type(exc).__name__}: {exc}). Finished steps are saved; "
            "run again with VITRINA_DEBUG=1 for details and report it."
        )
        return FATAL
    finally:
        if ctx is not None:
            for notice in ctx.notices:
                console.warn(f"vitrina: {notice}")
            ctx.close()
