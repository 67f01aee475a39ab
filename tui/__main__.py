"""`python -m tui` runs the kubedrift command line."""

import sys

from tui.cli import main

sys.exit(main())
