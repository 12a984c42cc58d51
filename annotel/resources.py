"""Files shipped inside the installed packages, found the way an installed wheel has them.

A path relative to a source file works in a checkout only; ``importlib.resources``
also finds the data of a wheel installed into any environment, which is how
``annotel demo`` and ``annotel report`` run after ``pip install``. The files are
declared as package data in ``pyproject.toml``.
"""

from __future__ import annotations

import atexit
import contextlib
from importlib import resources
from pathlib import Path

# Extracted copies of resources that are not plain files (a zipped install),
# kept until the process exits: the path is handed to child processes.
_extracted = contextlib.ExitStack()
atexit.register(_extracted.close)


def shipped_rules() -> Path:
    """The example alert rules, package data of ``alerts`` (``alerts/examples/rules.yaml``)."""
    resource = resources.files("alerts") / "examples" / "rules.yaml"
    if isinstance(resource, Path):
        return resource.resolve()
    return _extracted.enter_context(resources.as_file(resource))
