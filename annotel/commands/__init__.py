"""One module per ``annotel`` subcommand: its arguments (``register``) and what it prints.

The work itself is done by the package whose job it is (``streams``, ``sinks``,
``reports``, ``alerts``, ``simulator``); a command module parses, calls, and
reports the outcome with an exit status.
"""
