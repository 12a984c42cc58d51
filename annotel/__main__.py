"""``python -m annotel``: the same program as the ``annotel`` console script.

Child processes (the demo's worker) are started this way, with the running
interpreter, so they need no script on ``PATH``.
"""

import sys

from annotel.cli import main

sys.exit(main())
