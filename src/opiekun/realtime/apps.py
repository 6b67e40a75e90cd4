from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "opiekun.realtime"
    label = "realtime"
