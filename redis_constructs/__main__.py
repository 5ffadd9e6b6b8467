"""``python -m redis_constructs <command>``: the command line (:mod:`redis_constructs.credentials.cli`)."""

import sys

from redis_constructs.credentials.cli import main

sys.exit(main())
