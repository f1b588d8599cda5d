"""`python -m kiln.serve --model PATH ...`: the replica server (see kiln/serve/server.py)."""

import sys

from kiln.serve.server import main

sys.exit(main())
