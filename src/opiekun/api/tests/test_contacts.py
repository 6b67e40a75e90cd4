import pytest

from opiekun.agents.models import AuditLog
from opiekun.contacts.models import Contact, Identity
from opiekun.testing import factories

pytestmark = pytest.mark.django_db


def test_list_shows_only_this_shops_contacts(api, contact, other_contact):
    body = api.get("contacts").json()
    assert [c["id"] for c in body["items"]] == [contact.pk]
    assert body["items"][0]["identities"][0] == {
        "id": contact.identities.get().pk,
        "kind": "email",
        "value": "jan@example.org",
        "is_primary": True,
        "flagged": "",
    }
    assert (body["limit"], body["offset"], body["next_offset"]) == (50, 0, None)


def test_list_searches_name_email_and_phone_however_typed(api, shop, contact):
    phoned = factories.ContactFactory(shop=shop, name="Olga", email="olga@example.org")
    Identity.objects.create(shop=shop, contact=phoned, kind="phone", value="+48600100200")
    factories.ContactFactory(shop=shop, name="Someone Else", email="else@example.org")

    def ids(q):
        return [c["id"] for c in api.get("contacts", {"q": q}).json()["items"]]

    assert ids("kowal") == [contact.pk]
    assert ids("JAN@EXAMPLE") == [contact.pk]
    assert ids("600 100 200") == [phoned.pk]
    assert ids("+48600100200") == [phoned.pk]
    assert ids("nobody-has-this") == []


def test_list_search_never_finds_another_shops_contact(api, other_contact):
    assert api.get("contacts", {"q": "ewa"}).json()["items"] == []


def test_list_paginates_with_next_offset(api, shop):
    for n in range(5):
        factories.ContactFactory(shop=shop, name=f"C{n}")
    first = api.get("contacts", {"limit": 2}).json()
    assert [c["name"] for c in first["items"]] == ["C0", "C1"] and first["next_offset"] == 2
    last = api.get("contacts", {"limit": 2, "offset": 4}).json()
    assert [c["name"] for c in last["items"]] == ["C4"] and last["next_offset"] is None


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 201},
        {"limit": 0},
        {"offset": -1},
        {"limit": "ten"},
        {"offset": "9" * 40},
        {"q": "x" * 201},
        {"q": "a\x00b"},
    ],
)
def test_list_rejects_bad_paging_and_search(api, params):
    response = api.get("contacts", params)
    assert response.status_code == 422
    assert response.json()["field"] in ("limit", "offset", "q")


def test_list_query_count_is_fixed(api, shop, django_assert_num_queries):
    for n in range(10):
        c = factories.ContactFactory(shop=shop, caretaker=factories.AgentFactory(shop=shop))
        Identity.objects.create(shop=shop, contact=c, kind="phone", value=f"+4860010020{n}")
    # token lookup + last_used update, contacts (with caretakers joined), identities
    with django_assert_num_queries(4):
        response = api.get("contacts", {"limit": 200})
    assert len(response.json()["items"]) == 10


def test_create_contact(api, shop):
    response = api.post(
        "contacts",
        {
            "name": " Ola Nowak ",
            "email": "Ola@Example.org",
            "phone": "600 100 300",
            "language": "pl",
            "notes": "VIP",
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    contact = Contact.objects.get(pk=body["id"])
    assert (contact.shop, contact.name, contact.language, contact.notes) == (shop, "Ola Nowak", "pl", "VIP")
    assert sorted((i["kind"], i["value"]) for i in body["identities"]) == [
        ("email", "ola@example.org"),
        ("phone", "+48600100300"),
    ]


def test_create_with_a_known_address_is_409_with_the_existing_id_and_changes_nothing(api, contact):
    response = api.post("contacts", {"name": "Jan", "email": "JAN@example.org", "phone": "600 100 400"})
    assert response.status_code == 409
    assert response.json()["id"] == contact.pk and response.json()["code"] == "conflict"
    assert Contact.objects.count() == 1
    assert not Identity.objects.filter(kind="phone").exists()


def test_an_address_known_in_another_shop_is_a_new_contact_here(api, shop, other_contact):
    response = api.post("contacts", {"email": "ewa@example.org"})
    assert response.status_code == 201
    assert Contact.objects.get(pk=response.json()["id"]).shop == shop


@pytest.mark.parametrize(
    "body,field",
    [
        ({"name": "No address"}, "email"),
        ({"email": "not-an-address"}, "email"),
        ({"phone": "12"}, "phone"),
        ({"email": "a@example.org", "language": "english please"}, "language"),
        ({"email": "a@example.org", "name": "x" * 201}, "name"),
        ({"email": "a@example.org", "name": "Ja\x00n"}, "name"),
        ({"email": "a@example.org", "name": 42}, "name"),
        ({"email": "a@example.org", "notes": "\ud800"}, "notes"),
    ],
)
def test_create_validation_errors(api, body, field):
    response = api.post("contacts", body)
    assert response.status_code == 422, response.content
    assert response.json()["field"] == field
    assert isinstance(response.json()["detail"], str)
    assert not Contact.objects.exists()


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"just a string"', b"null", b"\xff\xfe"])
def test_malformed_bodies_are_4xx(api, raw):
    response = api.post("contacts", raw)
    assert response.status_code in (400, 422)
    assert "detail" in response.json()


def test_get_contact_and_isolation(api, other_api, contact):
    assert api.get(f"contacts/{contact.pk}").json()["name"] == "Jan Kowalski"
    foreign = other_api.get(f"contacts/{contact.pk}")
    missing = other_api.get("contacts/999999")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()


@pytest.mark.parametrize("path_id", ["-1", "0", "abc", "9" * 30, "1.5"])
def test_bad_ids_are_4xx(api, path_id):
    assert api.get(f"contacts/{path_id}").status_code in (404, 422)


def test_update_contact(api, contact, token):
    response = api.patch(f"contacts/{contact.pk}", {"name": "Jan K.", "notes": "Prefers phone"})
    assert response.status_code == 200
    contact.refresh_from_db()
    assert (contact.name, contact.notes, contact.language) == ("Jan K.", "Prefers phone", "")
    log = AuditLog.objects.get(action="contact.update")
    assert log.actor is None and log.data["token"] == token.name and log.data["fields"] == ["name", "notes"]


def test_update_of_another_shops_contact_is_404_and_changes_nothing(other_api, contact):
    assert other_api.patch(f"contacts/{contact.pk}", {"name": "Hacked"}).status_code == 404
    contact.refresh_from_db()
    assert contact.name == "Jan Kowalski"


def test_add_identity(api, contact):
    response = api.post(f"contacts/{contact.pk}/identities", {"kind": "phone", "value": "+48 600 100 500"})
    assert response.status_code == 201
    assert ("phone", "+48600100500") in [(i["kind"], i["value"]) for i in response.json()["identities"]]


def test_add_identity_owned_by_another_contact_is_409(api, shop, contact):
    other = factories.ContactFactory(shop=shop, email="other@example.org")
    response = api.post(f"contacts/{contact.pk}/identities", {"kind": "email", "value": "OTHER@example.org"})
    assert response.status_code == 409 and response.json()["id"] == other.pk
    assert contact.identities.count() == 1


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "email", "value": "nope"},
        {"kind": "fax", "value": "1"},
        {"kind": "phone", "value": ""},
        {"kind": "chat"},
    ],
)
def test_add_identity_validation(api, contact, body):
    assert api.post(f"contacts/{contact.pk}/identities", body).status_code == 422
    assert contact.identities.count() == 1


def test_add_identity_to_another_shops_contact_is_404(other_api, contact):
    response = other_api.post(
        f"contacts/{contact.pk}/identities", {"kind": "email", "value": "x@example.org"}
    )
    assert response.status_code == 404
    assert not Identity.objects.filter(value="x@example.org").exists()


def test_set_caretaker_and_backup(api, shop, contact):
    care, backup = factories.AgentFactory(shop=shop), factories.AgentFactory(shop=shop)
    response = api.put(
        f"contacts/{contact.pk}/caretaker", {"caretaker_id": care.pk, "backup_caretaker_id": backup.pk}
    )
    assert response.status_code == 200
    assert response.json()["caretaker"] == {"id": care.pk, "display_name": care.display_name}
    contact.refresh_from_db()
    assert (contact.caretaker, contact.backup_caretaker) == (care, backup)
    cleared = api.put(f"contacts/{contact.pk}/caretaker", {"caretaker_id": None})
    assert cleared.json()["caretaker"] is None and cleared.json()["backup_caretaker"] is None


def test_caretaker_from_another_shop_is_refused(api, other_shop, contact):
    stranger = factories.AgentFactory(shop=other_shop)
    response = api.put(f"contacts/{contact.pk}/caretaker", {"caretaker_id": stranger.pk})
    assert response.status_code == 422 and response.json()["field"] == "caretaker_id"
    contact.refresh_from_db()
    assert contact.caretaker is None


def test_caretaker_and_backup_must_differ(api, agent, contact):
    response = api.put(
        f"contacts/{contact.pk}/caretaker", {"caretaker_id": agent.pk, "backup_caretaker_id": agent.pk}
    )
    assert response.status_code == 422


def test_merge_contacts(api, shop, contact):
    dup = factories.ContactFactory(shop=shop, name="J. Kowalski", email="jan.k@example.org")
    conv = factories.ConversationFactory(shop=shop, contact=dup)
    response = api.post(f"contacts/{contact.pk}/merge", {"source_id": dup.pk})
    assert response.status_code == 200
    assert sorted(i["value"] for i in response.json()["identities"]) == [
        "jan.k@example.org",
        "jan@example.org",
    ]
    dup.refresh_from_db()
    conv.refresh_from_db()
    assert dup.merged_into == contact and conv.contact == contact
    assert api.get(f"contacts/{dup.pk}").json()["merged_into_id"] == contact.pk
    assert api.post(f"contacts/{contact.pk}/merge", {"source_id": dup.pk}).status_code == 422


def test_merge_with_another_shops_contact_is_refused(api, contact, other_contact):
    response = api.post(f"contacts/{contact.pk}/merge", {"source_id": other_contact.pk})
    assert response.status_code == 422 and response.json()["field"] == "source_id"
    other_contact.refresh_from_db()
    assert other_contact.merged_into is None


def test_merge_into_itself_is_422(api, contact):
    assert api.post(f"contacts/{contact.pk}/merge", {"source_id": contact.pk}).status_code == 422


def test_validation_error_shape(api):
    body = api.post("contacts", {"email": 5}).json()
    assert body["detail"] == "email: Input should be a valid string"
    assert (body["field"], body["code"]) == ("email", "invalid")
    assert body["errors"] == [
        {"loc": ["body", "email"], "msg": "Input should be a valid string", "type": "string_type"}
    ]
    query = api.get("contacts", {"limit": "x"}).json()
    assert query["field"] == "limit" and query["errors"][0]["loc"] == ["query", "limit"]
