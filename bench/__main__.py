"""``python -m bench [--scale N | --scales A,B,C] [--rebuild] ...`` (see ``bench.run``)."""

from __future__ import annotations

import sys


def entry() -> None:
    argv = sys.argv[1:]
    if argv[:1] == ["_step"]:
        from bench.steps import child_main

        child_main(argv[1], argv[2])
        return
    from bench.run import main

    main(argv)


if __name__ == "__main__":
    entry()
