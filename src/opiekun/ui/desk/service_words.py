"""The English messages services raise, listed so the desk's catalogue can show them translated.

Services speak English (the source language); `views.conversation.service_error` looks each message up
with gettext, so a message listed here reaches the agent in Polish or Russian.
"""

from __future__ import annotations

from django.utils.translation import gettext_noop

SERVICE_MESSAGES = (
    gettext_noop("The message is too long."),
    gettext_noop("Write a reply first."),
    gettext_noop("The reply is too long."),
    gettext_noop("Write the note first."),
    gettext_noop("This conversation belongs to another shop."),
    gettext_noop("That team belongs to another shop."),
    gettext_noop("Unknown priority."),
    gettext_noop("Pick two different conversations of the same shop."),
    gettext_noop("That conversation was already merged."),
    gettext_noop("Pick two different contacts of the same shop."),
    gettext_noop("This contact was already merged."),
    gettext_noop("The caretaker must be an agent of this shop."),
    gettext_noop("The backup must be someone other than the caretaker."),
    gettext_noop("Another contact already has this address; merge the two contacts instead."),
    gettext_noop("The message is empty."),
    gettext_noop("Unknown contact."),
    gettext_noop("Unknown conversation."),
    gettext_noop("Unknown language."),
    gettext_noop("That macro belongs to another shop."),
    gettext_noop("Only a reply to the customer can be sent again."),
    gettext_noop("Only a reply that was not delivered can be sent again."),
    gettext_noop("This reply belongs to another shop."),
    # conversations/attachments.check_files
    gettext_noop("%(name)s is empty."),
    gettext_noop("At most %(n)d files can be attached."),
    gettext_noop("%(name)s is not an allowed file type (allowed: %(kinds)s)."),
)

# Model labels the desk shows (statuses, priorities, channels, delivery, address kinds, roles). Their apps
# have no catalogue yet; the desk's catalogue carries them so no screen shows English by accident.
MODEL_LABELS = (
    gettext_noop("New"),
    gettext_noop("Open"),
    gettext_noop("Waiting on customer"),
    gettext_noop("Waiting internal"),
    gettext_noop("Resolved"),
    gettext_noop("Closed"),
    gettext_noop("Low"),
    gettext_noop("Normal"),
    gettext_noop("High"),
    gettext_noop("Urgent"),
    gettext_noop("E-mail"),
    gettext_noop("Contact form"),
    gettext_noop("Live chat"),
    gettext_noop("SMS"),
    gettext_noop("Phone"),
    gettext_noop("WhatsApp"),
    gettext_noop("Messenger"),
    gettext_noop("Telegram"),
    gettext_noop("Logged contact"),
    gettext_noop("Not sent"),
    gettext_noop("Queued"),
    gettext_noop("Sent"),
    gettext_noop("Delivered"),
    gettext_noop("Failed"),
    gettext_noop("Chat session"),
    gettext_noop("Messenger id"),
    gettext_noop("Agent"),
    gettext_noop("Team lead"),
    gettext_noop("Administrator"),
    gettext_noop("English"),
    gettext_noop("Polish"),
    gettext_noop("Russian"),
)
