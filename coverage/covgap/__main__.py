"""Allow ``python -m covgap``."""

import sys

from covgap.cli import main

sys.exit(main())
