"""The subcommands (`check`, `rules`/`explain`) and the exit codes they share with linter.cli:
0 no findings, 1 findings remain, 2 usage/config/internal error."""

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
