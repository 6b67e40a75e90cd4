from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "opiekun.contacts"
    label = "contacts"
