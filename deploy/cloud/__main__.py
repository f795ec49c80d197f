"""`python -m deploy.cloud` (what deploy/setup.sh runs)."""

import sys

from deploy.cloud.cli import main

sys.exit(main())
