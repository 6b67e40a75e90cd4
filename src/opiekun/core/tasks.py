from huey import crontab
from huey.contrib.djhuey import periodic_task

from .heartbeat import beat


@periodic_task(crontab(minute="*"))
def worker_heartbeat() -> None:
    beat()
