"""The `vitrina` command line: the same core as the window, for scripts and batch work.

Exit codes: 0 all good, 1 some files failed (import, xmp, reindex), 2 usage or fatal
error, 130 interrupted. A VitrinaError is printed as one message, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import signal
import sys
import threading
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from app.cli_commands import COMMANDS
from app.core import paths
from app.core.bundle import Bundle, BundleSet, load_bundle
from app.core.catalog import Catalog
from app.core.context import AppContext
from app.core.errors import BundleError, VitrinaError
from app.qt_libraries import install_hint, window_problem

OK, SOME_FAILED, FATAL, INTERRUPTED = 0, 1, 2, 130
# Control characters (C0, DEL, C1) and lone surrogates: a file name's bytes that are not UTF-8.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

log = logging.getLogger("vitrina.cli")


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


def one_line(text: str) -> str:
    """``text`` with its control characters escaped (``\\n``), and bytes that are not UTF-8
    shown as ``\\xff``: a file name cannot split its report line, or forge another."""
    return _UNPRINTABLE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if "\udc80" <= char <= "\udcff":  # a byte os.fsdecode could not decode
        return f"\\x{ord(char) - 0xDC00:02x}"
    if char in _ESCAPES:
        return _ESCAPES[char]
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


class Console:
    """Where a command writes: results on ``out``, problems and progress on ``err``; one
    line per call, escaped by :func:`one_line`."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr

    def print(self, *parts: object) -> None:
        print(one_line(" ".join(map(str, parts))), file=self.out)

    def warn(self, *parts: object) -> None:
        print(one_line(" ".join(map(str, parts))), file=self.err)


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
    problem = window_problem()
    if problem:
        console.warn(f"vitrina: {problem}")
        return FATAL
    try:
        from app.ui.main import run
    except ImportError as exc:
        console.warn(f"vitrina: the window cannot start ({exc}). {install_hint()}")
        return FATAL
    return int(run(db=args.db, bundle=args.bundle) or OK)


def _checked_bundle(path: str | None) -> Bundle | BundleSet:
    """The bundle a command needs, loaded before the catalog is opened: a bad --bundle then
    leaves no new catalog file behind."""
    folder = Path(path) if path else paths.default_bundle_path()
    if not folder.exists():
        raise BundleError(
            f"No model bundle at {folder}. The default bundle ships in models_onnx/default; "
            "or train one with `vitrina-train`; then pass its folder with --bundle or set "
            "VITRINA_BUNDLE."
        )
    return load_bundle(folder)


def _open_context(args: argparse.Namespace) -> AppContext:
    if not args.needs_bundle:
        return AppContext.open(args.db, args.bundle)
    bundle = _checked_bundle(args.bundle)
    ctx = AppContext(Catalog.open(args.db), bundle.path)
    ctx.bundle = bundle  # the one just checked (a cached property: it is not loaded again)
    return ctx


@contextlib.contextmanager
def _logged() -> Iterator[None]:
    """Log to the same file as the window while a command runs (notices, unexpected errors)."""
    root = logging.getLogger()
    try:
        handler: logging.Handler = logging.FileHandler(paths.log_file(), encoding="utf-8")
    except OSError:  # an unwritable data folder must not stop the command
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    level = root.level
    root.addHandler(handler)
    root.setLevel(min(level, logging.INFO) if level else logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        handler.close()


def _tell_notices(args: argparse.Namespace, ctx: AppContext, console: Console) -> None:
    """Index maintenance (reconciled, rebuilt) goes to the log; the terminal hears of it only
    from a command about the index (similar, reindex)."""
    for notice in ctx.notices:
        log.info("%s: %s", args.command, notice)
        if args.index_notices:
            console.warn(f"vitrina: {notice}")


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
    with _logged():
        return _run(args, console)


def _run(args: argparse.Namespace, console: Console) -> int:
    ctx = None
    try:
        with Interrupt() as interrupt:
            ctx = _open_context(args)
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
        log.exception("vitrina %s", args.command)
        if os.environ.get("VITRINA_DEBUG"):
            traceback.print_exc(file=console.err)
        console.warn(
            f"vitrina: unexpected error ({type(exc).__name__}: {exc}). Finished steps are saved; "
            "run again with VITRINA_DEBUG=1 for details and report it."
        )
        return FATAL
    finally:
        if ctx is not None:
            _tell_notices(args, ctx, console)
            ctx.close()
