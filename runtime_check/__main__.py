"""`python -m runtime_check ...` is `epochlint verify ...`."""
from runtime_check.cli import main

raise SystemExit(main())
