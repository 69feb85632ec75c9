"""Digits that are not 0-9, for tests that numbers are read from the digits 0 to 9 only.

Written as escapes so no editor or linter confuses them with ASCII digits. ``str.isdigit()`` is
True for all of them; ``int()`` raises on some and quietly reads the others.
"""

OTHER_DIGITS = [
    "\u00b2",  # superscript two: isdigit() is True, int() raises
    "\u0663",  # Arabic-Indic three: int() reads 3
    "\u2460",  # circled one: int() raises
    "\uff11\uff12",  # full-width 12: int() reads 12
    "\u07c5",  # NKo five: int() reads 5
    "1\u00b2",  # a real digit followed by a superscript
]
