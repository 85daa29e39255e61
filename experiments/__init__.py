"""Research command lines (accuracy studies, parity allowances), run from
the repository root as ``python -m experiments.<name> --help``. Speed and
memory measurements live in ``benches/``."""
