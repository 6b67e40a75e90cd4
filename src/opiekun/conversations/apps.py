from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    name = "opiekun.conversations"
    label = "conversations"
