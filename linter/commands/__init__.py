"""Implementations of the CLI's subcommands (one module per command family)."""
