"""Conversation.caretaker: the contact's caretaker copied onto its conversations (see the model)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('agents', '0002_initial'),
        ('contacts', '0002_identity_plural'),
        ('conversations', '0007_email'),
        ('inboxes', '0004_rawmail_lean_indexes'),
        ('shops', '0002_list_version'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='conversation',
            name='conv_open_contact',
        ),
        migrations.AddField(
            model_name='conversation',
            name='caretaker',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='agents.agent'),
        ),
        # Only the conversations of contacts with a caretaker are written (plain SQL: both databases).
        migrations.RunSQL(
            """
            UPDATE conversations_conversation SET caretaker_id = (
                SELECT caretaker_id FROM contacts_contact WHERE contacts_contact.id = conversations_conversation.contact_id
            )
            WHERE contact_id IN (SELECT id FROM contacts_contact WHERE caretaker_id IS NOT NULL)
            """,
            migrations.RunSQL.noop,
        ),
        migrations.AddIndex(
            model_name='conversation',
            index=models.Index(condition=models.Q(('status__in', ('new', 'open', 'pending_customer', 'pending_internal'))), fields=['shop', 'assignee', 'team', 'caretaker', 'status'], name='conv_open_counts'),
        ),
        migrations.AddIndex(
            model_name='conversation',
            index=models.Index(condition=models.Q(('status__in', ('new', 'open', 'pending_customer', 'pending_internal'))), fields=['shop', 'caretaker', '-last_message_at', '-id'], name='conv_open_caretaker'),
        ),
    ]
