"""`python -m kiln.desktop` opens the desktop app."""

import sys

from kiln.desktop.app import main

sys.exit(main())
