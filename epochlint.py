"""`python -m epochlint`: the command-line entry point (see linter.cli)."""
from linter.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
