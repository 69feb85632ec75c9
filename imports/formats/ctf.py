"""Common Transfer File (CTF) XML from a school's MIS: pupils leaving the school for home education.

What was checked, and where
---------------------------
The DfE publishes each CTF version's specification and schema on GOV.UK ("Common transfer file
(CTF) and co-ordinated admissions data", gov.uk/government/collections/common-transfer-file). The
copy of that page this work could reach lists CTF 14 to 23 (last updated 25 April 2023); the CTF
24, 25 and 26 specification documents themselves could not be read here, so the element names
below were checked against the structure those specifications define as it appears in code that
reads and writes real CTFs:

- the DfE's own services: "Get information about pupils" (DFE-Digital/get-information-about-pupils,
  ``XmlCtfFormatter``) writes ``CTfile`` / ``Header`` (``DocumentName``, ``CTFversion`` "25.0",
  ``DateTime``, ``DocumentQualifier``, ``DataDescriptor``, ``SupplierID``, ``SourceSchool``
  {``LEA``, ``Estab``, ``SchoolName``, ``AcademicYear``}, ``DestSchool`` {``LEA``, ``Estab``}) and
  ``CTFpupilData`` / ``Pupil`` (``UPN``, ``Surname``, ``Forename``, ``DOB``, ``Sex``); the
  multiplication tables check (DFEAGILEDEVOPS/MTC pull request 2719, March 2024) renamed the
  pupil's ``Gender`` to ``Sex`` in its CTF output, so files from before that change say ``Gender``;
- a commercial MIS's CTF import and export (Follett Aspen, UK state reporting, versions 11-12),
  for the parts the DfE services above do not write: ``BasicDetails`` (``MiddleNames``,
  ``PreferredForename``, ``NCyearActual``, ...), ``LookedAfter/InCare``,
  ``SENhistory/SEN/SENprovision``, ``Address`` holding either ``BS7666Address`` {``SAON``,
  ``PAON``, ``Street``, ``Locality``, ``Town``, ``AdministrativeArea``, ``PostTown``,
  ``UniquePropertyReferenceNumber``} or ``AddressLines`` {``AddressLine1`` .. ``AddressLine5``},
  then ``County`` and ``PostCode``; ``Contacts/Contact`` {``Order``, ``Title``, ``Surname``,
  ``Forename``, ``Gender``, ``Relationship``, ``Responsibility``, ``Address`` (or
  ``Address/AddressAsPupil`` true), ``Phones/Phone`` {``TelephoneType``, ``PhoneNo``}, ``Email``};
  ``SchoolHistory/School`` {``LEA``, ``Estab``, ``SchoolName``, ``EntryDate``, ``LeavingDate``,
  ``LeavingReason``, ``LastSchool``}.

DESIGN section 8's names agree with these, with one addition: CTF 25 files carry ``SourceSchool/URN``
in some suppliers' output but not in the DfE's own (above), so the school is found by its LA code
and establishment number and the URN is only a fallback. The DfE's school-to-school guidance (2019,
page 15) says a pupil leaving for an unknown destination gets a CTF with destination LA ``XXX``
and school ``XXXX``; MIS help pages tell schools to use the same for a pupil leaving for home
education. So a CTF for pupils leaving to be educated at home has destination ``XXX``/``XXXX``; a
CTF naming a destination school is about pupils moving school and is refused.

Not verified, and kept in the table below so that checking them is a data change: the contact
relationship codes (``PAR`` parent, ``STP`` step-parent, ``FOS`` foster parent, ``CAR`` carer,
``REL`` relative, ``FAM`` family member, ``OTH`` other: the Common Basic Data Set's list as MIS
exports use it; a code not in the table becomes "Other"), and CTF 26 (treated as 25 until its
specification is read: add or change its row when it differs).

Parsing
-------
Parsed through ``defusedxml`` as a stream (``iterparse``): a document type declaration (DTD), and
with it every entity (the "billion laughs" bomb) and external reference, is refused with a plain
message before anything is read; each pupil is checked and then dropped, so memory stays bounded.
A CTF from a school outside the importing LA (``SourceSchool/LEA``) is refused, as is one whose
school is not in the schools list (load the GIAS extract first).

Each pupil becomes a school notification (source "school", the school as ``opened_by_school``,
the file named in ``source_detail``) that goes through the same matching and risk check as the
school's form. The child's details pass the form's checks (``base.child_details_check``); the
contacts with parental responsibility become the parents. A pupil leaving a special school has
``special_school_placed_by_la`` set, because the consent rule reads only that flag
(``Episode.consent_applies``); the officer clears it if the LA did not arrange the place.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from typing import IO, Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as DefusedET
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from ehe_register.models import LocalAuthority, Relationship, School, SenStatus, SocialCareStatus
from ehe_register.validators import validate_uk_phone
from imports.formats import BadFile, ImportContext, Outcome, register
from imports.formats.base import ParsedRow, Problems, child_details_check, detail, text
from imports.formats.cases import CaseRowsFormat, is_one_open_case
from workflows.services.intake import IntakeRecord, intake_child, intake_episode_open, possible_matches_store
from workflows.states import Source

# ---------------------------------------------------------------------------------------------
# The element table: version -> field -> the paths to try, in order. Header paths are relative to
# ``Header``, pupil paths to ``Pupil``, address paths to an ``Address``, contact paths to a
# ``Contact``, history paths to a ``SchoolHistory/School``. A new version is a new row.

_CTF_24_TO_26: dict[str, tuple[str, ...]] = {
    "header.version": ("CTFversion",),
    "header.source_la": ("SourceSchool/LEA",),
    "header.source_estab": ("SourceSchool/Estab",),
    "header.source_urn": ("SourceSchool/URN",),
    "header.source_name": ("SourceSchool/SchoolName",),
    "header.dest_la": ("DestSchool/LEA",),
    "header.dest_estab": ("DestSchool/Estab",),
    "pupil.upn": ("UPN",),
    "pupil.surname": ("Surname",),
    "pupil.forename": ("Forename",),
    "pupil.dob": ("DOB",),
    "pupil.sex": ("Sex", "Gender"),
    "pupil.middle_names": ("BasicDetails/MiddleNames",),
    "pupil.preferred_forename": ("BasicDetails/PreferredForename",),
    "pupil.year": ("BasicDetails/NCyearActual",),
    "pupil.in_care": ("LookedAfter/InCare",),
    "pupil.sen": ("SENhistory/SEN",),
    "pupil.address": ("Address",),
    "pupil.contacts": ("Contacts/Contact",),
    "sen.start": ("StartDate",),
    "sen.provision": ("SENprovision",),
    "address.bs7666": ("BS7666Address",),
    "address.saon": ("BS7666Address/SAON",),
    "address.paon": ("BS7666Address/PAON",),
    "address.street": ("BS7666Address/Street",),
    "address.locality": ("BS7666Address/Locality",),
    "address.town": ("BS7666Address/Town", "BS7666Address/PostTown"),
    "address.lines": (
        "AddressLines/AddressLine1",
        "AddressLines/AddressLine2",
        "AddressLines/AddressLine3",
        "AddressLines/AddressLine4",
        "AddressLines/AddressLine5",
    ),
    "address.postcode": ("PostCode",),
    "address.as_pupil": ("AddressAsPupil",),
    "contact.order": ("Order",),
    "contact.surname": ("Surname",),
    "contact.forename": ("Forename",),
    "contact.relationship": ("Relationship",),
    "contact.responsibility": ("Responsibility",),
    "contact.address": ("Address",),
    "contact.phones": ("Phones/Phone/PhoneNo",),
    "contact.email": ("Email",),
    "contact.sex": ("Sex", "Gender"),
}

#: The versions read, by the number before the point in ``CTFversion`` ("25.0" is 25).
CTF_ELEMENTS: dict[str, dict[str, tuple[str, ...]]] = {
    "24": _CTF_24_TO_26,
    "25": _CTF_24_TO_26,
    "26": _CTF_24_TO_26,
}

#: ``DestSchool`` (LEA, Estab) of a pupil leaving for an unknown destination or outside the school
#: system, home education included (DfE school-to-school guidance).
DESTINATION_UNKNOWN = ("XXX", "XXXX")

#: ``SENprovision`` codes: N no SEN, K SEN support, E EHC plan; S (statement), A and P (school
#: action, school action plus) are older codes still found in a pupil's history.
SEN_PROVISION = {
    "N": SenStatus.NONE,
    "K": SenStatus.SEN_SUPPORT,
    "E": SenStatus.EHCP,
    "S": SenStatus.EHCP,
    "A": SenStatus.SEN_SUPPORT,
    "P": SenStatus.SEN_SUPPORT,
}

#: Contact ``Relationship`` codes; ``PAR`` (parent) becomes mother or father by the contact's sex.
RELATIONSHIP_CODES: dict[str, str] = {
    "PAR": "",
    "STP": Relationship.STEP_PARENT,
    "FOS": Relationship.FOSTER_CARER,
    "CAR": Relationship.OTHER,
    "REL": Relationship.OTHER,
    "FAM": Relationship.OTHER,
    "OTH": Relationship.OTHER,
}

_TRUE = {"true", "1", "yes", "y", "t"}


def ctf_parse(
    stream: IO[bytes],
    *,
    local_authority: LocalAuthority,
    file_name: str = "",
    today: date | None = None,
) -> Iterator[ParsedRow]:
    """Each pupil of a CTF as a school notification record, or the problems that stop it.

    Raises :class:`BadFile` for a file that is not a CTF this service reads: not XML, a DTD or
    entities, another root element, a version not in :data:`CTF_ELEMENTS`, a school outside
    ``local_authority`` or not in the schools list, a destination other than home education, or
    no pupils. The header is read before the first pupil, so a refused file yields nothing.
    """
    today = today or timezone.localdate()
    context: _Context | None = None
    stack: list[Element] = []
    pupils = 0
    try:
        for event, element in DefusedET.iterparse(
            stream, events=("start", "end"), forbid_dtd=True, forbid_entities=True, forbid_external=True
        ):
            name = _local(element.tag)
            if event == "start":
                if not stack and name != "CTfile":
                    raise BadFile(f"This is not a Common Transfer File: its first element is {name[:40]}, not CTfile")
                stack.append(element)
                continue
            stack.pop()
            element.tag = name  # namespaces dropped: paths below use local names
            parent = stack[-1] if stack else None
            if name == "Header" and len(stack) == 1:
                context = _header_read(element, local_authority)
            elif name == "Pupil" and parent is not None and _local(parent.tag) == "CTFpupilData":
                if context is None:
                    raise BadFile("The file's pupils come before its Header: it is not a Common Transfer File")
                pupils += 1
                yield _pupil_read(element, pupils, context, file_name=file_name, today=today)
                parent.remove(element)  # each pupil is dropped once read: memory stays bounded
    except defusedxml.DTDForbidden as error:
        raise BadFile(
            "The file declares a document type (DTD). Common Transfer Files never do, and a DTD can "
            "hide an XML bomb or read other files, so the file is refused"
        ) from error
    except defusedxml.EntitiesForbidden as error:
        raise BadFile(
            "The file defines XML entities, which can expand into an XML bomb, so the file is refused"
        ) from error
    except defusedxml.ExternalReferenceForbidden as error:
        raise BadFile("The file refers to another file or web address, so the file is refused") from error
    except ParseError as error:
        line, column = getattr(error, "position", (0, 0))
        raise BadFile(
            f"The file is not well-formed XML (the problem is at line {line}, column {column}). "
            "Export the CTF from the school's system again"
        ) from error
    if context is None:
        raise BadFile("The file has no Header: it is not a Common Transfer File")
    if pupils == 0:
        raise BadFile("The file has no pupils (no CTFpupilData/Pupil elements)")


class _Context:
    """What the header says, for every pupil of the file."""

    def __init__(self, elements: Mapping[str, tuple[str, ...]], school: School, version: str) -> None:
        self.elements = elements
        self.school = school
        self.version = version


def _local(tag: Any) -> str:
    """An element's name without its namespace (``{uri}Pupil`` is ``Pupil``)."""
    return str(tag).rsplit("}", 1)[-1]


def _find(element: Element | None, paths: tuple[str, ...]) -> tuple[str, Element | None]:
    """The first of ``paths`` present under ``element``: (its path, the element)."""
    if element is not None:
        for path in paths:
            found = element.find(path)
            if found is not None:
                return path, found
    return paths[0] if paths else "", None


def _text(element: Element | None, paths: tuple[str, ...]) -> tuple[str, str]:
    """(path, text) of the first of ``paths`` present, else (the first path, "")."""
    path, found = _find(element, paths)
    return path, text(found.text) if found is not None else ""


def _header_read(header: Element, local_authority: LocalAuthority) -> _Context:
    version_text = text(getattr(header.find("CTFversion"), "text", ""))
    version = version_text.split(".", 1)[0]
    elements = CTF_ELEMENTS.get(version)
    if elements is None:
        known = ", ".join(sorted(CTF_ELEMENTS))
        shown = version_text[:20] or "not given"
        raise BadFile(f"The file's CTF version is {shown}: this service reads CTF versions {known}")

    def value(key: str) -> str:
        return _text(header, elements[key])[1]

    source_la, estab, name = value("header.source_la"), value("header.source_estab"), value("header.source_name")
    shown_name = name[:100] or "a school"
    if source_la != local_authority.dfe_code:
        raise BadFile(
            f"This CTF comes from {shown_name} in local authority {source_la[:10] or '(not given)'}, not from a "
            f"school of {local_authority.name} ({local_authority.dfe_code}). Only CTFs from "
            f"{local_authority.name}'s own schools can be imported here; the school's own local authority "
            "should import it"
        )
    school = School.objects.filter(local_authority=local_authority, establishment_number=estab).first()
    urn = value("header.source_urn")
    if school is None and urn:
        school = School.objects.filter(local_authority=local_authority, urn=urn).first()
    if school is None:
        raise BadFile(
            f"The school that sent this CTF, {shown_name} ({source_la}{estab[:10]}), is not in the schools "
            "list. Load the latest GIAS schools extract, then import the file again"
        )
    destination = (value("header.dest_la").upper(), value("header.dest_estab").upper())
    if destination != DESTINATION_UNKNOWN:
        shown = "/".join(part[:10] for part in destination if part) or "not given"
        raise BadFile(
            f"This CTF sends its pupils to school {shown}, so they are moving school, not leaving for home "
            "education. A CTF for pupils leaving to be educated at home has the destination XXX/XXXX"
        )
    return _Context(elements, school, version)


def _pupil_read(pupil: Element, n: int, context: _Context, *, file_name: str, today: date) -> ParsedRow:
    e = context.elements
    where: dict[str, str] = {}
    raw: dict[str, object] = {}

    def take(key: str, field: str) -> str:
        path, value = _text(pupil, e[key])
        where[field] = path
        raw[field] = value
        return value

    take("pupil.forename", "legal_first_name")
    take("pupil.surname", "legal_last_name")
    take("pupil.middle_names", "legal_middle_names")
    take("pupil.preferred_forename", "preferred_first_name")
    take("pupil.dob", "date_of_birth")
    take("pupil.sex", "sex")
    take("pupil.upn", "upn")
    problems = Problems(where=where, row=n)

    year = _text(pupil, e["pupil.year"])[1].upper()
    raw["school_year_group"] = "reception" if year == "R" else year if year in {str(y) for y in range(1, 12)} else ""
    if year and not raw["school_year_group"]:
        raw["school_year_group"] = "other"

    raw["sen_status"] = _sen(pupil, e, problems, where)
    in_care = _text(pupil, e["pupil.in_care"])[1].lower() in _TRUE
    raw["social_care_status"] = SocialCareStatus.LOOKED_AFTER if in_care else SocialCareStatus.NONE

    address_path, address = _find(pupil, e["pupil.address"])
    _address_read(address, address_path, e, raw, where, prefix="")
    parents = _parents_read(pupil, e, where)
    where["parents"] = e["pupil.contacts"][0].split("/", 1)[0]

    child = child_details_check(raw, parents, problems, today=today, date_example="2014-03-27")
    label = f"Pupil {n}"
    if child is None:
        return ParsedRow(row=n, record=None, errors=tuple(problems.errors), label=label)
    school = context.school
    record = IntakeRecord(
        local_authority_id=school.local_authority_id,
        source=Source.SCHOOL,
        child=child,
        opened_by_school=school,
        source_detail=detail(f"Common Transfer File from {school.name}", file_name, f"pupil {n}"),
        special_school_placed_by_la=school.is_special,
    )
    return ParsedRow(row=n, record=record, label=label)


def _sen(pupil: Element, e: Mapping[str, tuple[str, ...]], problems: Problems, where: dict[str, str]) -> str:
    """The most recent SEN provision in the pupil's SEN history (by start date; ISO dates sort)."""
    entries = [found for path in e["pupil.sen"] for found in pupil.findall(path)]
    if not entries:
        return SenStatus.NONE
    latest = max(enumerate(entries), key=lambda pair: (_text(pair[1], e["sen.start"])[1], pair[0]))[1]
    code = _text(latest, e["sen.provision"])[1].upper()
    where["sen_status"] = f"{e['pupil.sen'][0]}/{e['sen.provision'][0]}"
    if code and code not in SEN_PROVISION:
        problems.add("sen_status", "SENprovision must be N (no special educational needs), K (SEN support) or E (EHCP)")
        return SenStatus.NONE
    return SEN_PROVISION.get(code, SenStatus.NONE)


def _address_read(
    address: Element | None,
    base: str,
    e: Mapping[str, tuple[str, ...]],
    raw: dict[str, object],
    where: dict[str, str],
    *,
    prefix: str,
) -> None:
    """An ``Address`` (BS7666 or lines) as line 1, line 2, town and postcode, under ``prefix``."""
    for field in ("address_line_1", "address_line_2", "address_town", "postcode"):
        where[prefix + field] = base
        raw[prefix + field] = ""
    if address is None:
        return
    postcode_path, postcode = _text(address, e["address.postcode"])
    raw[prefix + "postcode"], where[prefix + "postcode"] = postcode, f"{base}/{postcode_path}"
    if _find(address, e["address.bs7666"])[1] is not None:
        saon, paon = _text(address, e["address.saon"])[1], _text(address, e["address.paon"])[1]
        street = _text(address, e["address.street"])[1]
        building = ", ".join(part for part in (saon, " ".join(p for p in (paon, street) if p)) if part)
        raw[prefix + "address_line_1"] = building
        raw[prefix + "address_line_2"] = _text(address, e["address.locality"])[1]
        town_path, raw[prefix + "address_town"] = _text(address, e["address.town"])
        where[prefix + "address_line_1"] = f"{base}/{e['address.paon'][0]}"
        where[prefix + "address_line_2"] = f"{base}/{e['address.locality'][0]}"
        where[prefix + "address_town"] = f"{base}/{town_path}"
        return
    lines = [(path, value) for path in e["address.lines"] if (value := _text(address, (path,))[1])]
    if lines:
        where[prefix + "address_line_1"] = f"{base}/{lines[0][0]}"
        raw[prefix + "address_line_1"] = lines[0][1]
    if len(lines) >= 2:
        # The last line given is the town; any between are line 2 (BS7666 keeps them apart, lines do not).
        where[prefix + "address_town"] = f"{base}/{lines[-1][0]}"
        raw[prefix + "address_town"] = lines[-1][1]
        where[prefix + "address_line_2"] = f"{base}/{e['address.lines'][1]}"
        raw[prefix + "address_line_2"] = ", ".join(value for _, value in lines[1:-1])


def _parents_read(pupil: Element, e: Mapping[str, tuple[str, ...]], where: dict[str, str]) -> list[dict[str, object]]:
    """The contacts with parental responsibility, in the file's order of contact, as parents."""
    contacts = [found for path in e["pupil.contacts"] for found in pupil.findall(path)]
    ordered = sorted(
        enumerate(contacts, start=1),
        key=lambda pair: int(o) if (o := _text(pair[1], e["contact.order"])[1]).isascii() and o.isdigit() else 99,
    )
    parents: list[dict[str, object]] = []
    for position, contact in ordered:
        if _text(contact, e["contact.responsibility"])[1].lower() not in _TRUE:
            continue
        n = len(parents) + 1
        base = f"{e['pupil.contacts'][0]}[{position}]"
        key = f"parent_{n}_"
        values: dict[str, object] = {}
        for field, element_key in (("first_name", "contact.forename"), ("last_name", "contact.surname")):
            path, values[field] = _text(contact, e[element_key])
            where[key + field] = f"{base}/{path}"
        code_path, code = _text(contact, e["contact.relationship"])
        where[key + "relationship"] = f"{base}/{code_path}"
        values["relationship"] = _relationship(code.upper(), _text(contact, e["contact.sex"])[1].upper())
        phones = [text(found.text) for path in e["contact.phones"] for found in contact.findall(path)]
        values["emergency_phone"] = _first_uk_phone(phones)
        where[key + "emergency_phone"] = f"{base}/{e['contact.phones'][0]}"
        email_path, values["email"] = _text(contact, e["contact.email"])
        where[key + "email"] = f"{base}/{email_path}"
        address_path, address = _find(contact, e["contact.address"])
        lives_with_child = address is None or _text(address, e["address.as_pupil"])[1].lower() in _TRUE
        values["lives_with_child"] = lives_with_child
        if not lives_with_child:
            address_where: dict[str, str] = {}
            _address_read(address, f"{base}/{address_path}", e, values, address_where, prefix="")
            where.update({key + field: path for field, path in address_where.items()})
        parents.append(values)
    return parents


def _relationship(code: str, sex: str) -> str:
    mapped = RELATIONSHIP_CODES.get(code, Relationship.OTHER)
    if mapped:
        return mapped
    return {"F": Relationship.MOTHER, "M": Relationship.FATHER}.get(sex, Relationship.OTHER)


def _first_uk_phone(phones: list[str]) -> str:
    """The first number that is a UK phone number, else the first given (whose check then says
    what is wrong with it), else nothing."""
    for phone in phones:
        try:
            return validate_uk_phone(phone)
        except ValidationError:
            continue  # not a UK phone number: try the contact's next one
    return phones[0] if phones else ""


# ---------------------------------------------------------------------------------------------
# The format: each pupil through the one intake path, as a school's notification is


class CtfFormat(CaseRowsFormat):
    """A CTF's pupils as school notifications (see the module's docstring): each child found or
    created by ``intake_child`` and a case opened in ``notified`` by ``intake_episode_open``
    (the risk check runs as for the school's form), one savepoint per pupil."""

    kind = "ctf"
    label = "a Common Transfer File (CTF)"
    extensions: tuple[str, ...] = (".xml",)
    surname_where = "Surname"
    upn_where = "UPN"
    row_word = "pupil"

    def parsed(self, stream: IO[bytes], *, extension: str, context: ImportContext) -> Iterator[ParsedRow]:
        return ctf_parse(
            stream, local_authority=context.local_authority, file_name=context.file_name, today=context.today
        )

    def write(self, records: Sequence[tuple[int, IntakeRecord]], *, context: ImportContext) -> list[Outcome]:
        outcomes = self.classify(records, context=context)
        for index, ((_, record), outcome) in enumerate(zip(records, outcomes, strict=True)):
            if outcome == Outcome.UNCHANGED:
                continue
            try:
                with transaction.atomic():
                    found = intake_child(record, as_of=context.as_of)
                    possible_matches_store(found, as_of=context.as_of)
                    intake_episode_open(record, found.child, as_of=context.as_of)
            except IntegrityError as error:  # the child's case was opened since the chunk was classified
                if not is_one_open_case(error):
                    raise
                outcomes[index] = Outcome.UNCHANGED
        return outcomes


register(CtfFormat())
