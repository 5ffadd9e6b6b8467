"""``python -m redis_constructs.plan``: the plan's entry point, kept where it was (:mod:`redis_constructs.gitops.plan`)."""

import sys

from redis_constructs.gitops.plan import main

if __name__ == "__main__":
    sys.exit(main())
