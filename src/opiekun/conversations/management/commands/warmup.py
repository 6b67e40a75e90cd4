"""`opiekun warmup`: build the search dictionaries once on this machine (make does it after install)."""

import time

from django.core.management.base import BaseCommand

from opiekun.conversations import dictionaries


class Command(BaseCommand):
    help = "Build and load the pl/ru/en lemmatisation dictionaries used by search (once per machine)."
    requires_system_checks: list = []

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        started = time.monotonic()
        dictionaries.warm()
        self.stdout.write(
            f"Search dictionaries ready in {dictionaries.cache_dir()} ({time.monotonic() - started:.1f} s)."
        )
