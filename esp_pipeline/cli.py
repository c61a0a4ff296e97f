"""`esp-sync`: command-line entry points of the pipeline."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: esp-sync demo [options]   (esp-sync demo --help lists the options)")
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "demo":
        from esp_pipeline.demo import main as demo_main

        return demo_main(rest)
    print(f"esp-sync: unknown command {command!r}; the only command is 'demo'", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
