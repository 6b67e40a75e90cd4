"""The `opiekun` command: a thin wrapper over Django management (opiekun run|migrate|demo|createagent|…)."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opiekun.config.settings.dev")
    from django.core.management import execute_from_command_line

    args = list(sys.argv[1:] if argv is None else argv)
    execute_from_command_line(["opiekun", *(args or ["help"])])


if __name__ == "__main__":
    main()
