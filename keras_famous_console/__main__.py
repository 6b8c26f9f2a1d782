"""`python -m keras_famous_console`: the console script (how `keras-famous train --workers N` starts its workers)."""

import sys

from keras_famous_console import main

sys.exit(main())
