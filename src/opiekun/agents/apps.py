from django.apps import AppConfig


class AgentsConfig(AppConfig):
    name = "opiekun.agents"
    label = "agents"
