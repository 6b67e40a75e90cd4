"""The agent desk's views: auth, inbox lists, the conversation, contacts, attachments and search."""
