"""The linter test suite (a package, so that test modules may share basenames with tests/runtime/)."""
