"""Reference data that is not about children: local authorities, the DfE reasons for home education
(and, later, schools from GIAS)."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from ehe_register.models import LocalAuthority, ReasonCode

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


REASON_CODES_CSV = LAS_CSV.parent / "reason_codes.csv"
_CODE = re.compile(r"[a-z0-9_]{1,30}")


@dataclass(frozen=True)
class ReasonCodeRow:
    code: str
    label: str
    dfe_category: str
    order: int
    active: bool


def reason_code_rows(path: Path = REASON_CODES_CSV) -> list[ReasonCodeRow]:
    """The DfE reasons in ``fixtures/reason_codes.csv``; a malformed row stops the load with its line."""
    rows = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        for line, record in enumerate(csv.DictReader(handle), start=2):
            code = (record.get("code") or "").strip()
            label = (record.get("label") or "").strip()
            if not _CODE.fullmatch(code) or not label:
                raise ValueError(f"{path.name} line {line}: a code (a-z, 0-9, _) and a label are required")
            order = (record.get("order") or "0").strip()
            rows.append(
                ReasonCodeRow(
                    code=code,
                    label=label,
                    dfe_category=(record.get("dfe_category") or "").strip(),
                    order=int(order) if order.isascii() and order.isdigit() else 0,
                    active=(record.get("active") or "true").strip().lower() not in ("false", "no", "0"),
                )
            )
    return rows


@transaction.atomic
def reason_codes_load(path: Path = REASON_CODES_CSV) -> tuple[int, int]:
    """Create the file's reasons and refresh their wording and order. Returns (created, updated).

    Whether an existing reason is offered (``active``) is the administrator's choice and survives a
    reload; reasons an administrator added that are not in the file are left alone.
    """
    created = updated = 0
    for row in reason_code_rows(path):
        reason, was_created = ReasonCode.objects.get_or_create(
            code=row.code,
            defaults={"label": row.label, "dfe_category": row.dfe_category, "order": row.order, "active": row.active},
        )
        if not was_created:
            reason.label, reason.dfe_category, reason.order = row.label, row.dfe_category, row.order
            reason.save(update_fields=["label", "dfe_category", "order"])
        created += was_created
        updated += not was_created
    return created, updated
