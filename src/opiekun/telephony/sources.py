"""Phone and SMS providers as webhook sources (filled in below)."""


def register_all() -> None:
    return None
