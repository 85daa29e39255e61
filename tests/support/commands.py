"""Running a command line's ``main`` in-process as the shell would."""

from __future__ import annotations

from glam_py import cli


def run_main(main, argv: list[str], capsys) -> tuple[int, str]:
    """Exit status and stderr of ``main(argv)`` run as from the shell
    (through :func:`glam_py.cli.run`, argparse's exits included)."""
    try:
        code = cli.run(lambda: main(argv))
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr().err
