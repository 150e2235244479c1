"""The repeat-infringer ledger: strikes that expire, and the threshold that makes an uploader a repeat infringer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Strike:
    uploader: str
    case_id: str
    at: dt.datetime
    expires_at: dt.datetime


@dataclass(frozen=True)
class StrikePolicy:
    lifetime: dt.timedelta = dt.timedelta(days=365)
    threshold: int = 3

    def strike(self, uploader: str, case_id: str, at: dt.datetime) -> Strike:
        return Strike(uploader, case_id, at, at + self.lifetime)

    def active(self, strikes: Iterable[Strike], uploader: str, now: dt.datetime) -> list[Strike]:
        return [s for s in strikes if s.uploader == uploader and s.at <= now < s.expires_at]

    def is_repeat_infringer(self, strikes: Iterable[Strike], uploader: str, now: dt.datetime) -> bool:
        return len(self.active(strikes, uploader, now)) >= self.threshold
