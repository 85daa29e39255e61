"""The errors a command line reports as the user's to fix, not as a bug in
glam (:func:`glam_py.cli.run` decides the exit status from the class)."""

from __future__ import annotations


class UsageError(Exception):
    """A mistake in the command's arguments found after parsing them (a
    conflict between flags, a value out of range): exit status 2, like
    argparse's own errors. The message names the flag and what is allowed."""


class InputError(Exception):
    """An input the command cannot use, or an output it cannot write,
    found before the work starts: exit status 1. The message names the
    file and the problem."""
