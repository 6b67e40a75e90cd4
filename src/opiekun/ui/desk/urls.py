from django.urls import path

from .views import auth, commerce, contacts, conversation, files, inbox, mail, phone, search

app_name = "desk"
urlpatterns = [
    path("login/", auth.login_view, name="login"),
    path("logout/", auth.logout_view, name="logout"),
    path("language/", auth.language_view, name="language"),
    path("", inbox.inbox_view, name="inbox"),
    path("list/", inbox.list_view, name="list"),
    path("search/", search.search_view, name="search"),
    path("c/<int:number>/", conversation.conversation_view, name="conversation"),
    path("c/<int:number>/thread/", conversation.thread_view, name="thread"),
    path("c/<int:number>/compose/", conversation.compose_view, name="compose"),
    path("c/<int:number>/macro/", conversation.macro_view, name="macro"),
    path("c/<int:number>/status/", conversation.status_action, name="status"),
    path("c/<int:number>/assign/", conversation.assign_action, name="assign"),
    path("c/<int:number>/priority/", conversation.priority_action, name="priority"),
    path("c/<int:number>/tags/", conversation.tags_action, name="tags"),
    path("c/<int:number>/order/", conversation.order_action, name="order"),
    path("c/<int:number>/merge/", conversation.merge_action, name="merge"),
    path("c/<int:number>/link-order/", commerce.link_action, name="commerce_link"),
    path("c/<int:number>/log/", conversation.log_action, name="log"),
    path("c/<int:number>/m/<int:message_id>/resend/", conversation.resend_action, name="resend"),
    path("contacts/<int:contact_id>/", contacts.contact_view, name="contact"),
    path("contacts/<int:contact_id>/caretaker/", contacts.caretaker_action, name="contact_caretaker"),
    path("contacts/<int:contact_id>/merge/", contacts.merge_action, name="contact_merge"),
    path("contacts/<int:contact_id>/log/", contacts.log_action, name="contact_log"),
    # Phone: callbacks, click-to-call, the text after a call.
    path("callbacks/", phone.callbacks_view, name="callbacks"),
    path("callbacks/badge/", phone.callbacks_badge_view, name="callbacks_badge"),
    path("callbacks/<int:callback_id>/attempt/", phone.callback_attempt_action, name="callback_attempt"),
    path("contacts/<int:contact_id>/call/", phone.call_action, name="contact_call"),
    path("c/<int:number>/sms-after-call/", phone.after_call_sms_action, name="sms_after_call"),
    path("attachments/<int:attachment_id>/", files.attachment_view, name="attachment"),
    # E-mail operations (shop admins): mailboxes with health and a connection test, the quarantine.
    path("mail/", mail.mailboxes_view, name="mailboxes"),
    path("mail/badge/", mail.mail_badge_view, name="mail_badge"),
    path("mail/inboxes/new/", mail.mailbox_new_view, name="mailbox_new"),
    path("mail/inboxes/<int:inbox_id>/", mail.mailbox_edit_view, name="mailbox_edit"),
    path("mail/inboxes/<int:inbox_id>/test/", mail.mailbox_test_action, name="mailbox_test"),
    path("mail/quarantine/", mail.quarantine_view, name="quarantine"),
    path("mail/raw/<int:raw_id>/", mail.raw_mail_view, name="raw_mail"),
    path("mail/raw/<int:raw_id>/download/", mail.raw_mail_download, name="raw_mail_download"),
    path("mail/raw/<int:raw_id>/retry/", mail.raw_mail_retry, name="raw_mail_retry"),
    # Shop connections (shop admins): connectors with health and their webhook addresses.
    path("shop-connections/", commerce.connectors_view, name="commerce_connectors"),
    path("shop-connections/new/", commerce.connector_new_action, name="commerce_connector_new"),
    path("shop-connections/<int:connector_id>/sync/", commerce.connector_sync_action, name="commerce_sync"),
    path(
        "shop-connections/<int:connector_id>/active/",
        commerce.connector_active_action,
        name="commerce_active",
    ),
]
