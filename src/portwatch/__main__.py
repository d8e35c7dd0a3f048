"""`python -m portwatch` runs the command line."""

import sys

from portwatch.cli.main import main

sys.exit(main())
