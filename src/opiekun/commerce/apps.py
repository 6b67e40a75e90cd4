from django.apps import AppConfig


class CommerceConfig(AppConfig):
    name = "opiekun.commerce"
    label = "commerce"
    verbose_name = "Commerce"

    def ready(self) -> None:
        from opiekun.contacts.events import ContactChanged
        from opiekun.conversations import macros
        from opiekun.conversations.events import MessageCreated
        from opiekun.core.events import subscribe, subscribe_many
        from opiekun.webhooks.registry import sources

        from . import links, variables
        from .connectors import base, baselinker, generic, shopify, woocommerce
        from .events import OrdersChanged

        # One registry line per platform: the connector (catch-up, normaliser) and its webhook source.
        for module in (woocommerce, shopify, baselinker, generic):
            base.platforms.register(module.PLATFORM.name, module.PLATFORM)
            sources.register(module.SOURCE.name, module.SOURCE)
        subscribe_many(MessageCreated, links.link_mentioned_orders)
        subscribe(ContactChanged, links.orders_follow_merges)
        subscribe(OrdersChanged, links.refresh_open_cases)
        macros.variable_providers.register("order", variables.order_variables)
