"""How a message names what the user gave: `input_shape` and weights='imagenet' from Python, --input-shape and
--weights imagenet on the command line.

A check names an argument with `named("input_shape")` and a value given to one with `setting("weights", value)`.
The command line says how it spells the arguments it passes, around its call (`spelled(input_shape="--input-shape")`).
Nothing else in a message changes: paths and upstream text are printed as they are. Standard library only.
"""

import contextlib
import contextvars

_SPELLINGS = contextvars.ContextVar("keras_famous_argument_spellings", default={})


@contextlib.contextmanager
def spelled(**spellings):
    """Within the block, messages name each argument as `spellings` says (`input_shape="--input-shape"`)."""
    token = _SPELLINGS.set({**_SPELLINGS.get(), **spellings})
    try:
        yield
    finally:
        _SPELLINGS.reset(token)


def named(argument):
    """How a message names `argument`: "`input_shape`", or the command line's "--input-shape"."""
    return _SPELLINGS.get().get(argument) or f"`{argument}`"


def setting(argument, value):
    """How a message shows `value` given to `argument`: "weights='imagenet'", or "--weights imagenet" (a switch
    set to True: "--force"; None: "--weights none")."""
    spelling = _SPELLINGS.get().get(argument)
    if spelling is None:
        return f"{argument}={value!r}"
    if value is True and spelling.startswith("--"):
        return spelling
    if value is None and spelling.startswith("--"):
        return f"{spelling} none"
    return f"{spelling} {value}"
