"""Reports for people: the leadership report (``annotel report``), the terminal status
(``annotel top``) and the current alerts (``annotel alerts list``), read from ClickHouse.

The flow: ``reports.queries`` reads plain rows (all the ClickHouse I/O);
``reports.sections`` computes each section from its rows (pure); the
composition (``reports.model.build_report``, ``reports.live.status``) pairs the
two; ``reports.html`` and ``reports.markdown`` lay out the ``reports.types.Report``.
The command line (``annotel.commands.report``, ``top``, ``alerts``) opens the
client (through ``sinks``) and hands it in, so nothing here reads settings or
opens a connection.
"""
