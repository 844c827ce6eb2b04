"""One module per ``meharl`` subcommand.

Each module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``; the CLI finds
them by listing this package, so adding a command is adding a file.
"""
