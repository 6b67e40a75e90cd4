"""Inbox secrets (IMAP/SMTP passwords, provider tokens) sealed at rest: copy every inbox's plain JSON
secrets into a sealed column, then drop the plain one. Reversible (unseals back into JSON)."""

from django.db import migrations

import opiekun.core.secretbox


def seal_existing(apps, schema_editor):
    Inbox = apps.get_model("inboxes", "Inbox")
    for inbox in Inbox.objects.only("id", "secrets").iterator():
        if inbox.secrets:
            Inbox.objects.filter(pk=inbox.pk).update(
                sealed_secrets=opiekun.core.secretbox.seal(dict(inbox.secrets))
            )


def unseal_back(apps, schema_editor):
    Inbox = apps.get_model("inboxes", "Inbox")
    for inbox in Inbox.objects.only("id", "sealed_secrets").iterator():
        Inbox.objects.filter(pk=inbox.pk).update(secrets=inbox.sealed_secrets or {})


class Migration(migrations.Migration):
    dependencies = [("inboxes", "0005_imap_history")]

    operations = [
        migrations.AddField(
            model_name="inbox",
            name="sealed_secrets",
            field=opiekun.core.secretbox.SealedJSONField(blank=True, default=dict, editable=False),
        ),
        migrations.RunPython(seal_existing, unseal_back),
        migrations.RemoveField(model_name="inbox", name="secrets"),
        migrations.RenameField(model_name="inbox", old_name="sealed_secrets", new_name="secrets"),
    ]
