"""Reports for people: the leadership report (``annotel report``), the terminal status
(``annotel top``) and the current alerts (``annotel alerts list``), read from ClickHouse.

Depends on ``schemas``, ``sinks`` and ``alerts`` only; the command line hands in the
DSN (``reports.commands.register``), so nothing here reads settings.
"""
