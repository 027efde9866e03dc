"""``python -m workers.cli``: the same command as ``coursemail`` (the worker pool starts its
children this way)."""

import sys

from workers.cli import main

sys.exit(main())
