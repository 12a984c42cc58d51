"""``annotel``, the command line: the one package that may import every other.

It reads settings once (``annotel.config``) and hands plain values to the
packages that do the work, so none of them reads the environment itself.
``annotel.cli`` builds the parser from one module per subcommand
(``annotel.commands``); ``annotel.demo`` runs the whole product on the embedded
stack; ``annotel.live_view`` is the demo's terminal view.
"""
