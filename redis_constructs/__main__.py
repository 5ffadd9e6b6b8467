"""``python -m redis_constructs <command>``: the same command line as the ``redis-shared`` console script."""

import sys

from redis_constructs.cli import main

sys.exit(main())
