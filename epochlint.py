"""`python -m epochlint`: the command-line entry point (see linter.cli).

`python -m` puts the working directory first on `sys.path`. In a project being linted, a file
there named like one of our imports (`libcst.py`, `json.py`, a `linter/` folder) would then be
imported, that is, run. So, unless this file itself lives in the working directory (a checkout
of epochlint), that entry is dropped before anything else is imported. The `epochlint` console
script never adds it.
"""
import os
import sys


def _forget_working_directory() -> None:
    if not sys.path or not sys.path[0]:
        return
    here = os.path.dirname(os.path.realpath(__file__))
    first = os.path.realpath(sys.path[0])
    if first == os.path.realpath(os.getcwd()) and first != here:
        del sys.path[0]


if __name__ == "__main__":
    _forget_working_directory()

from linter.cli import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
