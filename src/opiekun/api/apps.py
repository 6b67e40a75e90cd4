from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "opiekun.api"
    label = "api"
