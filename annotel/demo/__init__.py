"""``annotel demo``, split by job: ``plan`` (arguments and the data directory), ``feed``
(publishing the input), ``supervisor`` (the worker process and the signals), ``summary``
(the results read back) and ``run`` (the order they start and stop in)."""
