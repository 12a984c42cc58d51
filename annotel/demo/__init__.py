"""``annotel demo``, split by job: ``plan`` (arguments and the data directory), ``feed``
(publishing the input), ``gateway_feed`` (the same input over HTTP through ``annotel
gateway``, for ``--via-gateway``), ``supervisor`` (the worker process and the signals),
``summary`` (the results read back) and ``run`` (the order they start and stop in)."""
