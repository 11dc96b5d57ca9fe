"""``python -m planner``: the Yizhan command line."""

import sys

from planner.cli import main

sys.exit(main())
