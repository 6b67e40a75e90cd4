import pytest

from opiekun.conversations.macros import macro_render, render_text
from opiekun.conversations.models import Conversation, Macro
from opiekun.core.errors import ValidationFailed
from opiekun.testing import factories

from .conftest import inbound


@pytest.fixture
def conv(inbox):
    conversation = inbound(inbox, name="Łucja Bąk", email="lucja@example.org", order_ref="A-1").conversation
    return Conversation.objects.select_related("contact", "shop").get(pk=conversation.pk)


@pytest.mark.django_db
def test_variables(conv, agent, shop):
    macro = Macro.objects.create(
        shop=shop,
        name="m",
        body=(
            "{{ contact.first_name }}|{{ contact.last_name }}|{{ contact.email }}|{{ conversation.number }}|"
            "{{ conversation.order_ref }}|{{ order.number }}|{{ agent.name }}|{{ agent.first_name }}|"
            "{{ shop.name }}|{{ nothing.here }}|{{ contact.first_name|upper }}"
        ),
    )
    assert macro_render(macro=macro, conversation=conv, agent=agent) == (
        f"Łucja|Bąk|lucja@example.org|{conv.number}|A-1|A-1|Anna Nowak|Anna|Demo Shop||ŁUCJA"
    )


@pytest.mark.django_db
def test_plain_text_is_not_escaped_but_html_output_is(conv, agent, shop):
    conv.contact.name = "O'Brien <Ltd>"
    assert (
        render_text("Hi {{ contact.name }}", {"contact": {"name": conv.contact.name}}) == "Hi O'Brien <Ltd>"
    )
    assert render_text("Hi {{ contact.name }}", {"contact": {"name": conv.contact.name}}, html=True) == (
        "Hi O&#x27;Brien &lt;Ltd&gt;"
    )


@pytest.mark.parametrize(
    "body",
    [
        "{% load static %}{% static 'x' %}",
        "{% include 'desk/base.html' %}",
        "{% extends 'desk/base.html' %}",
        "{% debug %}",
        "{% csrf_token %}",
        "{% url 'desk:inbox' %}",
        "{% if contact.name %}never closed",
    ],
)
@pytest.mark.django_db
def test_dangerous_or_broken_templates_are_refused(conv, agent, shop, body):
    macro = Macro.objects.create(shop=shop, name="bad", body=body)
    with pytest.raises(ValidationFailed):
        macro_render(macro=macro, conversation=conv, agent=agent)


@pytest.mark.django_db
def test_no_model_methods_reachable(conv, agent, shop):
    # The context holds plain values: no .delete, no related managers, no settings.
    macro = Macro.objects.create(
        shop=shop,
        name="m",
        body="{{ conversation.delete }}{{ contact.identities.all }}"
        "{{ shop.secret_key }}{{ settings.SECRET_KEY }}",
    )
    assert macro_render(macro=macro, conversation=conv, agent=agent) == ""
    assert Conversation.objects.filter(pk=conv.pk).exists()


@pytest.mark.django_db
def test_a_macro_of_another_shop_is_refused(conv, agent, other_shop):
    macro = Macro.objects.create(shop=other_shop, name="x", body="hi")
    with pytest.raises(ValidationFailed):
        macro_render(macro=macro, conversation=conv, agent=agent)


@pytest.mark.django_db
def test_if_and_default(conv, shop):
    colleague = factories.AgentFactory(shop=shop, display_name="Olga")
    body = (
        "{% if conversation.order_ref %}Order {{ conversation.order_ref }}{% else %}No order{% endif %}, "
        "{{ contact.phone|default:'no phone' }}, {{ agent.name }}"
    )
    macro = Macro.objects.create(shop=shop, name="m", body=body)
    assert macro_render(macro=macro, conversation=conv, agent=colleague) == "Order A-1, no phone, Olga"
