"""``python -m sim.cli``: the same as the ``funnel`` command."""

import sys

from sim.cli.app import main

sys.exit(main())
