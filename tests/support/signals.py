"""Ctrl-C as a terminal delivers it, whatever started the test run."""

from __future__ import annotations

import signal


def let_children_take_ctrl_c() -> None:
    """Undo an inherited ``SIGINT`` ignore, so that the processes the Ctrl-C checks start can be
    interrupted. A shell without job control starts its background jobs with ``SIGINT`` ignored,
    and an ignored signal stays ignored across fork and exec (a handler is reset to the default):
    every child would shrug off the checks' ``SIGINT`` and they would time out, or pass without
    having interrupted anything."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
