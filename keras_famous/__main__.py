"""`python -m keras_famous`: the `keras-famous` command (how `keras-famous train --workers N` starts its workers)."""

import sys

from .cli import main

sys.exit(main())
