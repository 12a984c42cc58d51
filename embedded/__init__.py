"""The laptop stack: the embedded Kafka broker (Tansu) and embedded ClickHouse (chDB).

Why a package of its own: none of this runs in production, where the worker
talks to a Kafka cluster and a ClickHouse server. Kept apart, the worker's
code cannot come to depend on it: ``embedded`` imports only ``schemas``, and
only the ClickHouse client factory (``sinks.client``) and the command line
import ``embedded``.

- ``broker``: the Tansu process (in memory, loopback only).
- ``engine_lock``: who holds a chDB directory; waiting for it to be free.
- ``wire``: what crosses an engine process's sockets (JSON headers, Native rows).
- ``channel``: one request at a time over a wire, the client and serving ends.
- ``engine_handle``: running SQL on a chDB handle, inside the engine process.
- ``chdb_process``: the worker's engine in a child process, both ends.
- ``engine_reader``: read-only queries of other commands into a running engine.
- ``reader_statements``: which statements such a reader may run.
"""
