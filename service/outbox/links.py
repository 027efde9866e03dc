"""The addresses and links one outgoing email carries, worked out from its rows.

Signing belongs to the domain (the secret never leaves ``service``); laying the values out
as headers and footers belongs to ``emails``. So this module turns a delivery into plain
values — the confirmation link, the unsubscribe link and mailto, the tracked reply address,
the envelope sender — and ``emails.message`` takes it from there.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.addresses import Addresses, AddressKind
from service.settings import Settings
from service.store.models import Delivery, DeliveryKind, Reader
from service.tokens import ConfirmTokens, PreferencesTokens, PrivateLinkTokens


@dataclass(frozen=True)
class Links:
    #: the envelope sender: ``bounces+TOKEN`` in tracked mode, so a bounce names its email
    envelope_from: str
    #: the tracked ``reply+TOKEN`` address, or None: replies go to the therapist directly
    reply_address: str | None
    #: the double opt-in link (confirmation emails only)
    confirm_url: str | None = None
    #: the one-click https unsubscribe link (course emails only)
    unsubscribe_url: str | None = None
    #: the ``unsubscribe+TOKEN`` address for List-Unsubscribe's mailto (tracked mode only)
    unsubscribe_address: str | None = None
    #: the reader's own preferences page (course emails and the "already" note)
    preferences_url: str = ""
    #: the fresh private link a reader asked for (its own email only)
    private_url: str = ""


def for_delivery(settings: Settings, addresses: Addresses, delivery: Delivery) -> Links:
    reader = delivery.reader

    def tracked(kind: AddressKind) -> str | None:
        if not settings.tracked_replies:
            return None
        return addresses.address(kind, reader.id, delivery.id, owner=reader.public_id)

    envelope_from = tracked(AddressKind.BOUNCE) or settings.MAIL_FROM
    reply_address = tracked(AddressKind.REPLY)
    if delivery.kind in (DeliveryKind.CONFIRMATION, DeliveryKind.JOIN):
        token = ConfirmTokens(settings.SECRET_KEY).make(reader.public_id, delivery.course)
        return Links(
            envelope_from, reply_address, confirm_url=f"{settings.PUBLIC_URL}/confirm/{token}"
        )
    private = ""
    if delivery.kind == DeliveryKind.PRIVATE_LINK:
        private = f"{settings.PUBLIC_URL}/private/" + PrivateLinkTokens(settings.SECRET_KEY).make(
            reader.public_id, delivery.id
        )
    return Links(
        envelope_from,
        reply_address,
        unsubscribe_url=f"{settings.PUBLIC_URL}/u/{reader.unsubscribe_token}",
        unsubscribe_address=tracked(AddressKind.UNSUBSCRIBE),
        preferences_url=f"{settings.PUBLIC_URL}/preferences/"
        + PreferencesTokens(settings.SECRET_KEY).make(reader.public_id),
        private_url=private,
    )


def for_answer(
    settings: Settings,
    addresses: Addresses,
    reader: Reader | None,
    delivery_id: int | None,
) -> Links:
    """Our automatic answer to a reader's reply (the crisis reply) carries the same tracked
    addresses as the email they answered, so an answer to it reaches the therapist too."""
    if not settings.tracked_replies or reader is None or not delivery_id:
        return Links(settings.MAIL_FROM, None)
    ids, owner = (reader.id, delivery_id), reader.public_id
    return Links(
        addresses.address(AddressKind.BOUNCE, *ids, owner=owner),
        addresses.address(AddressKind.REPLY, *ids, owner=owner),
    )
