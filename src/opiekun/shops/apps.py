from django.apps import AppConfig


class ShopsConfig(AppConfig):
    name = "opiekun.shops"
    label = "shops"
