"""Reference data that is not about children: local authorities (and, later, schools from GIAS)."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from ehe_register.models import LocalAuthority

LAS_CSV = Path(__file__).resolve().parent.parent.parent / "fixtures" / "las.csv"
_THREE_DIGITS = re.compile(r"\d{3}")
_ONS_CODE = re.compile(r"E\d{8}")


@dataclass(frozen=True)
class LocalAuthorityRow:
    dfe_code: str
    ons_code: str
    name: str


def local_authority_rows(path: Path = LAS_CSV) -> list[LocalAuthorityRow]:
    """The live, single-LA rows of the DfE QA list.

    The list also holds terminated rows that share a DfE code with a live one (370, 373, 390, 815,
    825, 929, 933), combined rows (``940 / 941``) and rows whose code is ``x``: none of those is an
    LA that can use the service, though their codes stay valid inside UPNs.
    """
    rows = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        for record in csv.DictReader(handle):
            dfe_code = record["old_la_code"].strip()
            ons_code = record["new_la_code"].strip()
            if record["status"].strip() != "live":
                continue
            if not _THREE_DIGITS.fullmatch(dfe_code) or not _ONS_CODE.fullmatch(ons_code):
                continue
            rows.append(LocalAuthorityRow(dfe_code=dfe_code, ons_code=ons_code, name=record["la_name"].strip()))
    return rows


@transaction.atomic
def local_authorities_load(path: Path = LAS_CSV) -> tuple[int, int]:
    """Create or update every live LA, keyed on its ONS code. Returns (created, updated).

    Only the codes and name are written: an LA's own settings are never overwritten by a reload.
    """
    created = updated = 0
    for row in local_authority_rows(path):
        _, was_created = LocalAuthority.objects.update_or_create(
            ons_code=row.ons_code, defaults={"dfe_code": row.dfe_code, "name": row.name}
        )
        created += was_created
        updated += not was_created
    return created, updated
