"""The public side: the contact form (own page and embedded) and the customer portal."""

from django.urls import path

from . import contact, portal

app_name = "portal"
urlpatterns = [
    path("contact/<slug:shop_slug>/", contact.contact_form, name="contact_form"),
    path("contact/<slug:shop_slug>/done/", contact.contact_done, name="contact_done"),
    path("contact/<slug:shop_slug>/embed/", contact.contact_embed, name="contact_embed"),
    path("contact/<slug:shop_slug>/embed/done/", contact.embed_done, name="embed_done"),
    path("contact/<slug:shop_slug>/embed.js", contact.embed_script, name="embed_script"),
    path("portal/", portal.home, name="home"),
    path("portal/t/<str:token>/", portal.enter, name="enter"),
    path("portal/c/<int:number>/", portal.conversation, name="conversation"),
    path("portal/files/<int:attachment_id>/", portal.attachment, name="attachment"),
    path("portal/link/", portal.request_link, name="request_link"),
    path("portal/logout/", portal.logout, name="logout"),
]
