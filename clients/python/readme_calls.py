"""The README walk-through's calls through the client openapi-python-client generates from
openapi.yaml (`scripts/clients.sh` generates it and runs `mypy --strict` on this file).

It is type-checked, not run against a service: a spec change that untypes a body, renames a member
or makes a defaulted member required fails CI here.
"""

from property_contacts_client import AuthenticatedClient
from property_contacts_client.api.crm_contacts import (
    add_crm_email_address,
    create_crm_contact,
    get_crm_contact,
    list_crm_contacts,
    merge_crm_contacts,
    patch_crm_contact,
    replace_crm_contact,
    set_primary_crm_email_address,
)
from property_contacts_client.api.properties import list_properties, put_property
from property_contacts_client.models import (
    ChannelMapping,
    CrmContact,
    CrmContactPatch,
    CrmContactRequest,
    CrmContactType,
    CrmEmailAddressRequest,
    CrmMergeRequest,
    CrmTelephoneRequest,
    Problem,
    PropertyRequest,
)


def walk_through(base_url: str, key: str) -> None:
    client = AuthenticatedClient(base_url=base_url, token=key)

    # Register a property and its Booking.com listing.
    put_property.sync(
        "NT7",
        client=client,
        body=PropertyRequest(
            name="Hotel Seven",
            channel_mappings=[ChannelMapping(channel="booking", channel_property_id="12837615")],
        ),
    )
    list_properties.sync(client=client, limit=20)

    # A CRM contact; `primary` is optional in every item.
    created = create_crm_contact.sync(
        client=client,
        body=CrmContactRequest(
            contact_type=CrmContactType.GUEST,
            first_name="Ann",
            last_name="Jansen",
            email_addresses=[CrmEmailAddressRequest(email_address="ann@example.com")],
            telephones=[CrmTelephoneRequest(number="020 123 4567", country_code="NL")],
        ),
    )
    if not isinstance(created, CrmContact):
        raise SystemExit(f"create failed: {created}")
    e164: str = created.telephones[0].e164
    print(created.id, created.version, e164)

    add_crm_email_address.sync(
        created.id, client=client, body=CrmEmailAddressRequest(email_address="ann@work.example", primary=True)
    )
    set_primary_crm_email_address.sync(created.id, 1, client=client)
    page = list_crm_contacts.sync(client=client, email_address="ANN@example.com", page=0, size=20, sort="lastName,asc")
    if page is not None and not isinstance(page, Problem):
        # Offset pages carry totals; cursor pages (`after`) do not, so the member may be unset.
        total = page.page.total_elements
        if isinstance(total, int):
            print(total)
    get_crm_contact.sync(created.id, client=client, if_none_match='"3"')

    # Change one member (merge patch), then overwrite the whole contact (PUT) under If-Match.
    patched = patch_crm_contact.sync(created.id, client=client, body=CrmContactPatch(first_name="Anna"))
    if isinstance(patched, CrmContact):
        replace_crm_contact.sync(
            created.id,
            client=client,
            body=CrmContactRequest(first_name="Anna", last_name="Jansen", contact_type=CrmContactType.GUEST),
            if_match=f'"{patched.version}"',
        )

    # Merge a second contact into the first.
    other = create_crm_contact.sync(client=client, body=CrmContactRequest(last_name="Jansen"))
    if isinstance(other, CrmContact):
        merged = merge_crm_contacts.sync(
            client=client, body=CrmMergeRequest(primary_contact_id=created.id, secondary_contact_id=other.id)
        )
        if merged is not None and not isinstance(merged, Problem):
            ok: bool = merged.success
            print(ok, merged.message)


def typed_bodies() -> None:
    """Request bodies are typed models, not `Any`: a misspelt member is a type error, so the
    `ignore` below is needed (`--strict` reports an unneeded one)."""
    CrmContactRequest(frst_name="Ann")  # type: ignore[call-arg]


if __name__ == "__main__":
    walk_through("http://127.0.0.1:8080", "pck_...")
