"""One module per `chromaluma` subcommand: HELP, add_arguments(parser), run(args) -> int."""
