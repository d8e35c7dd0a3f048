"""`python -m portwatch` runs the command line."""

import sys

from portwatch.cli import main

sys.exit(main())
