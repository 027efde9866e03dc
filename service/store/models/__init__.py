"""The database tables, one module per room that owns them; import them from here.

- ``base``: aware UTC times, enums as text, random public ids, the declarative base;
- ``readers``: ``Reader`` (table ``subscribers``), ``Consent``, ``ReaderEvent``, ``Suppression``,
  ``PrivateLink``;
- ``outbox``: ``Enrollment`` and ``Delivery``, with their states;
- ``inbox``: ``InboundMessage`` (stored raw first), ``WebhookNonce``, and ``DeskAnswer``
  (the therapist's answer from the desk);
- ``courses``: ``CourseVersion``, each published version of a course's files;
- ``desk``: ``DeskSnapshot``, ``HealthProbe``, and the desk's own ``DeskUser``,
  ``DeskSession`` and ``DeskAudit``.

The tables and columns keep the names of the first migrations (``subscribers``,
``subscriber_id``): the code says reader, the attribute maps to the column.
"""

from service.store.models.base import (
    Base,
    UTCDateTime,
    enum_column,
    new_address_token,
    new_public_id,
)
from service.store.models.courses import CourseDraft, CourseVersion
from service.store.models.desk import (
    DeskAudit,
    DeskSession,
    DeskSnapshot,
    DeskUser,
    HealthProbe,
)
from service.store.models.inbox import (
    CrisisReplyState,
    DeskAnswer,
    InboundCategory,
    InboundMessage,
    InboundStatus,
    WebhookNonce,
)
from service.store.models.outbox import (
    UNDER_WAY,
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Enrollment,
    EnrollmentStatus,
    ReceivingDomain,
    SendingHold,
)
from service.store.models.readers import (
    Consent,
    PrivateLink,
    Reader,
    ReaderEvent,
    ReaderStatus,
    Suppression,
)

__all__ = [
    "UNDER_WAY",
    "Base",
    "Consent",
    "CourseDraft",
    "CourseVersion",
    "CrisisReplyState",
    "Delivery",
    "DeliveryKind",
    "DeliveryStatus",
    "DeskAnswer",
    "DeskAudit",
    "DeskSession",
    "DeskSnapshot",
    "DeskUser",
    "Enrollment",
    "EnrollmentStatus",
    "HealthProbe",
    "InboundCategory",
    "InboundMessage",
    "InboundStatus",
    "PrivateLink",
    "Reader",
    "ReaderEvent",
    "ReaderStatus",
    "ReceivingDomain",
    "SendingHold",
    "Suppression",
    "UTCDateTime",
    "WebhookNonce",
    "enum_column",
    "new_address_token",
    "new_public_id",
]
