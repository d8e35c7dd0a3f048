"""One module per `portwatch` subcommand (see portwatch.cli.main)."""
