"""An existing EHE register as a council keeps it, built in tests: the council's own headings,
the mapping of those headings to the register's fields, one row per open case, and the file."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

BLNS: list[str] = json.loads((Path(__file__).resolve().parents[1] / "data" / "blns.json").read_text())

# A council's own spreadsheet, with its own headings.
HEADINGS = [
    "Ref",
    "Forename",
    "Surname",
    "DOB",
    "Gender",
    "Address",
    "Town",
    "Postcode",
    "Parent first name",
    "Parent surname",
    "Relationship",
    "Phone",
    "Status",
    "Officer",
    "Review date",
    "Date verified",
    "Notes",
]
COLUMNS = {
    "reference": "Ref",
    "legal_first_name": "Forename",
    "legal_last_name": "Surname",
    "date_of_birth": "DOB",
    "sex": "Gender",
    "address_line_1": "Address",
    "address_town": "Town",
    "postcode": "Postcode",
    "parent_first_name": "Parent first name",
    "parent_last_name": "Parent surname",
    "parent_relationship": "Relationship",
    "parent_phone": "Phone",
    "state": "Status",
    "assigned_officer": "Officer",
    "review_due_on": "Review date",
    "contacts_verified_on": "Date verified",
}


def register_row(**overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "Ref": "EHE/2019/041",
        "Forename": "Siobhán",
        "Surname": "O'Connor-Nguyễn",
        "DOB": "27/03/2014",
        "Gender": "Female",
        "Address": "14 Church Street",
        "Town": "Leatherhead",
        "Postcode": "KT21 1AA",
        "Parent first name": "Aoife",
        "Parent surname": "O'Connor",
        "Relationship": "Mother",
        "Phone": "07700 900123",
        "Status": "Monitoring",
        "Officer": "",
        "Review date": "15/03/2027",
        "Date verified": "02/10/2026",
        "Notes": "",
    }
    values.update(overrides)
    return values


def register_file(rows: list[dict[str, object]], headings: list[str] = HEADINGS) -> bytes:
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=headings, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows([{h: r.get(h, "") for h in headings} for r in rows])
    return text.getvalue().encode()


#: Three open cases: two in monitoring, one at an education enquiry.
REGISTER = [
    register_row(),
    register_row(Ref="EHE/2020/007", Forename="Tomasz", Surname="Wiśniewski", DOB="09/01/2012", Gender="M"),
    register_row(
        Ref="EHE/2021/113", Forename="Ada", Surname="Lovelace", Status="Education enquiry", **{"Review date": ""}
    ),
]
