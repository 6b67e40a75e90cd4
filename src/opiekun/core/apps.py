from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "opiekun.core"
    label = "core"

    def ready(self) -> None:
        # Operational upkeep, not domain logic: after a migration, no table is left without the
        # statistics SQLite's planner needs (core/statistics.py).
        # (sent once per app with models; after the first, nothing is left to analyse)
        post_migrate.connect(_after_migrate, dispatch_uid="opiekun.analyse")


def _after_migrate(sender: AppConfig, using: str = "default", **kwargs: object) -> None:
    from .statistics import analyse_unanalysed_tables

    analyse_unanalysed_tables(using=using)
