"""GIAS establishment extracts built in tests, as GIAS writes them (cp1252, dd-mm-yyyy)."""

from __future__ import annotations

import csv
import io

# As GIAS writes them: more columns than are read, in its order.
HEADINGS = [
    "URN",
    "LA (code)",
    "LA (name)",
    "EstablishmentNumber",
    "EstablishmentName",
    "TypeOfEstablishment (name)",
    "EstablishmentTypeGroup (name)",
    "EstablishmentStatus (name)",
    "OpenDate",
    "CloseDate",
    "PhaseOfEducation (name)",
    "Postcode",
]


def row(
    urn,
    name,
    *,
    la="936",
    number="4001",
    kind="Community school",
    status="Open",
    opened="",
    closed="",
    phase="Secondary",
    postcode="GU1 1AA",
):
    return [
        urn,
        la,
        "Surrey",
        number,
        name,
        kind,
        "Local authority maintained schools",
        status,
        opened,
        closed,
        phase,
        postcode,
    ]


def extract(rows, headings=HEADINGS, encoding="cp1252") -> io.BytesIO:
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(headings)
    writer.writerows(rows)
    return io.BytesIO(text.getvalue().encode(encoding))


ROWS = [
    row("125300", "École Sainte-Thérèse Primary", number="2001", phase="Primary", opened="01-09-1998"),
    row("125301", "Earlswood Brook School", number="7103", kind="Community special school", phase="Not applicable"),
    row("125302", "Wey Meadows School", number="7101", kind="Academy special converter", postcode="gu11sj"),
    row("125303", "St Œdilburga\u2019s CofE Junior", number="3002", status="Closed", closed="31-08-2019"),
    row("401234", "Ysgol Gymraeg Caerdydd", la="681", number="2200"),  # Wales: not on the register
]
