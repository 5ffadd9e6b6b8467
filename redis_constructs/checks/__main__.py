"""``python -m redis_constructs.checks check ...``: the LAN checks (:mod:`redis_constructs.checks.cli`)."""

import sys

from redis_constructs.checks.cli import main

sys.exit(main())
