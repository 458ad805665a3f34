"""``python -m percloss``: see :mod:`percloss.cli`."""

import sys

from .cli import main

sys.exit(main())
