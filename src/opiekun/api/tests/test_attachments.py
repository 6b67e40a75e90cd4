import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from opiekun.agents.models import AuditLog
from opiekun.conversations.models import Attachment, Message
from opiekun.testing import factories

from .conftest import csrf_headers

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


def upload(client, conversation, files, headers=None, **fields):
    data = {**fields, "files": [SimpleUploadedFile(name, content) for name, content in files]}
    return client.client.post(
        f"/api/conversations/{conversation.pk}/attachments",
        data,
        headers={**client.headers, **(headers or {})},
    )


def test_upload_with_a_reply(api, agent, conversation, token, settings, tmp_path):
    settings.ATTACHMENTS_DIR = tmp_path
    response = upload(
        api, conversation, [("skan.pdf", PDF), ("photo.png", png())], text="Your invoice", agent_id=agent.pk
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["is_internal"], body["direction"]) == (False, "out")
    assert [(a["filename"], a["mime_type"], a["size"]) for a in body["attachments"]] == [
        ("skan.pdf", "application/pdf", len(PDF)),
        ("photo.png", "image/png", len(png())),
    ]
    assert (
        body["attachments"][0]["download_url"] == f"/api/attachments/{body['attachments'][0]['id']}/download"
    )
    assert AuditLog.objects.get(action="attachment.upload").data["files"] == ["skan.pdf", "photo.png"]


def test_upload_as_a_note(api, agent, conversation, settings, tmp_path):
    settings.ATTACHMENTS_DIR = tmp_path
    response = upload(
        api, conversation, [("skan.pdf", PDF)], text="Scan of the receipt", agent_id=agent.pk, kind="note"
    )
    assert response.status_code == 201
    assert response.json()["is_internal"] is True


def test_token_upload_of_a_disallowed_type_stores_nothing(api, agent, conversation, settings, tmp_path):
    settings.ATTACHMENTS_DIR = tmp_path
    response = upload(api, conversation, [("invoice.pdf", EXE)], text="see attached", agent_id=agent.pk)
    assert response.status_code == 422 and response.json()["field"] == "files"
    assert not Message.objects.exists() and not Attachment.objects.exists()
    assert not any(tmp_path.rglob("*"))


def test_token_upload_follows_the_shops_form_config(api, agent, conversation, inbox, settings, tmp_path):
    settings.ATTACHMENTS_DIR = tmp_path
    inbox.config = {"allowed_types": ["application/pdf"]}
    inbox.save()
    response = upload(api, conversation, [("photo.png", png())], text="photo", agent_id=agent.pk)
    assert response.status_code == 422
    assert upload(api, conversation, [("skan.pdf", PDF)], text="pdf", agent_id=agent.pk).status_code == 201


def test_agents_may_upload_other_sniffed_types(session, conversation, settings, tmp_path):
    settings.ATTACHMENTS_DIR = tmp_path
    response = upload(
        session,
        conversation,
        [("notes.txt", b"plain words")],
        headers=csrf_headers(session),
        text="Log attached",
        kind="note",
    )
    assert response.status_code == 201, response.content
    assert response.json()["attachments"][0]["mime_type"] == "text/plain"


def test_session_upload_without_csrf_is_403(session, conversation, settings, tmp_path):
    settings.ATTACHMENTS_DIR = tmp_path
    assert upload(session, conversation, [("notes.txt", b"x")], text="x").status_code == 403
    assert not Attachment.objects.exists()


def test_upload_limits(api, agent, conversation, settings, tmp_path):
    settings.ATTACHMENTS_DIR = tmp_path
    settings.OPIEKUN_UPLOAD_MAX_BYTES = 1024
    big = upload(api, conversation, [("big.pdf", PDF + b"0" * 2048)], text="x", agent_id=agent.pk)
    assert big.status_code == 422 and "too large" in big.json()["detail"]
    many = upload(api, conversation, [(f"{n}.pdf", PDF) for n in range(6)], text="x", agent_id=agent.pk)
    assert many.status_code == 422
    empty = upload(api, conversation, [("empty.pdf", b"")], text="x", agent_id=agent.pk)
    assert empty.status_code == 422
    none = api.client.post(
        f"/api/conversations/{conversation.pk}/attachments",
        {"text": "x", "agent_id": agent.pk},
        headers=api.headers,
    )
    assert none.status_code == 422
    assert not Message.objects.exists()


def test_upload_to_another_shops_conversation_is_404(other_api, other_shop, conversation, settings, tmp_path):
    settings.ATTACHMENTS_DIR = tmp_path
    stranger = factories.AgentFactory(shop=other_shop)
    response = upload(other_api, conversation, [("skan.pdf", PDF)], text="x", agent_id=stranger.pk)
    assert response.status_code == 404
    assert not Attachment.objects.exists()


def test_metadata_and_download(api, other_api, agent, conversation, settings, tmp_path):
    settings.ATTACHMENTS_DIR = tmp_path
    created = upload(api, conversation, [("skan ąę.pdf", PDF)], text="x", agent_id=agent.pk).json()
    att_id = created["attachments"][0]["id"]
    meta = api.get(f"attachments/{att_id}").json()
    assert (meta["filename"], meta["size"], meta["message_id"]) == ("skan ąę.pdf", len(PDF), created["id"])
    download = api.get(f"attachments/{att_id}/download")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PDF
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["X-Content-Type-Options"] == "nosniff"
    assert download["Content-Type"] == "application/pdf"
    assert other_api.get(f"attachments/{att_id}").status_code == 404
    assert other_api.get(f"attachments/{att_id}/download").status_code == 404


def test_download_of_a_missing_blob_is_404(api, agent, conversation, settings, tmp_path):
    settings.ATTACHMENTS_DIR = tmp_path
    created = upload(api, conversation, [("skan.pdf", PDF)], text="x", agent_id=agent.pk).json()
    for path in tmp_path.rglob("*"):
        if path.is_file():
            path.unlink()
    assert api.get(f"attachments/{created['attachments'][0]['id']}/download").status_code == 404
