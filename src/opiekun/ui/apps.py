from django.apps import AppConfig


class UiConfig(AppConfig):
    name = "opiekun.ui"
    label = "ui"
