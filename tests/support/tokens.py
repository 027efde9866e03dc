"""Confirmation tokens as they would look had they been issued long ago."""

from __future__ import annotations

import time

from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from service.tokens import CONFIRM_SALT


def confirm_token_issued_days_ago(secret_key: str, public_id: str, days: int) -> str:
    class Backdated(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - days * 24 * 3600

    serializer = URLSafeTimedSerializer(secret_key, salt=CONFIRM_SALT, signer=Backdated)
    return str(serializer.dumps(public_id))
