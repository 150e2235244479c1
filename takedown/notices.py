"""Notices and counter-notices, and the elements the law says they must carry.

Validation names every missing element in the statute's own terms, so the
sender can be told exactly what to supply (a notice that lacks elements is
`incomplete`, not rejected).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

Regime = Literal["dmca", "dsa"]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Notice:
    """A rights holder's notice about a published track."""

    regime: Regime
    claimant_name: str = ""
    claimant_email: str = ""
    claimant_address: str = ""
    claimant_phone: str = ""
    signature: str = ""
    """Physical or electronic signature of the claimant or an authorised agent (DMCA)."""
    work_description: str = ""
    """Identification of the copyrighted work claimed to be infringed (DMCA)."""
    work_id: str = ""
    """The catalog work, when the claimant's system knows it."""
    content_locations: tuple[str, ...] = ()
    """Exact electronic locations (URLs) or record ids of the material."""
    explanation: str = ""
    """Why the material is illegal (DSA: a sufficiently substantiated explanation)."""
    good_faith_statement: bool = False
    accuracy_statement: bool = False
    """DMCA: accurate, under penalty of perjury, authorised to act. DSA: bona fide belief, accurate and complete."""
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CounterNotice:
    """The uploader's answer (DMCA 512(g)(3))."""

    uploader_name: str = ""
    uploader_address: str = ""
    uploader_phone: str = ""
    signature: str = ""
    material_identification: str = ""
    """The material removed and where it appeared before removal."""
    mistake_statement: bool = False
    """Under penalty of perjury: removed by mistake or misidentification."""
    jurisdiction_consent: bool = False
    """Consent to the jurisdiction of the court, and to accept service of process from the claimant."""


def missing_elements(notice: Notice) -> list[str]:
    """The required elements a notice lacks; empty when it is complete."""
    if notice.regime == "dmca":
        checks = [
            (bool(notice.signature.strip()), "512(c)(3)(A)(i) a physical or electronic signature"),
            (bool(notice.work_description.strip() or notice.work_id),
             "512(c)(3)(A)(ii) identification of the copyrighted work"),
            (bool(notice.content_locations), "512(c)(3)(A)(iii) identification and location of the material"),
            (bool(notice.claimant_name.strip() and (notice.claimant_address.strip() or notice.claimant_phone.strip())
                  and _EMAIL.match(notice.claimant_email)),
             "512(c)(3)(A)(iv) contact information (name, address or telephone, email)"),
            (notice.good_faith_statement, "512(c)(3)(A)(v) a statement of good-faith belief"),
            (notice.accuracy_statement,
             "512(c)(3)(A)(vi) a statement of accuracy and authority, under penalty of perjury"),
        ]
    elif notice.regime == "dsa":
        checks = [
            (len(notice.explanation.strip()) >= 20, "Art. 16(2)(a) a sufficiently substantiated explanation"),
            (bool(notice.content_locations), "Art. 16(2)(b) the exact electronic location of the information"),
            (bool(notice.claimant_name.strip() and _EMAIL.match(notice.claimant_email)),
             "Art. 16(2)(c) the name and email address of the notifier"),
            (notice.accuracy_statement, "Art. 16(2)(d) a statement of bona fide belief in accuracy and completeness"),
        ]
    else:
        return [f"unknown regime '{notice.regime}' (dmca or dsa)"]
    return [element for ok, element in checks if not ok]


def missing_counter_elements(counter: CounterNotice) -> list[str]:
    checks = [
        (bool(counter.signature.strip()), "512(g)(3)(A) a physical or electronic signature"),
        (bool(counter.material_identification.strip()),
         "512(g)(3)(B) identification of the material and its location before removal"),
        (counter.mistake_statement,
         "512(g)(3)(C) a statement under penalty of perjury of mistake or misidentification"),
        (bool(counter.uploader_name.strip() and counter.uploader_address.strip() and counter.uploader_phone.strip()),
         "512(g)(3)(D) name, address and telephone number"),
        (counter.jurisdiction_consent, "512(g)(3)(D) consent to jurisdiction and to accept service of process"),
    ]
    return [element for ok, element in checks if not ok]
