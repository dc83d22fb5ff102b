"""``python -m bifrost.cli``: the ``bifrost`` command."""

import sys

from bifrost.cli import main

sys.exit(main())
