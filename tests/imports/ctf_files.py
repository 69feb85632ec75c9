"""Common Transfer Files built from the documented structure (``imports.formats.ctf``'s docstring):
``CTfile`` / ``Header`` / ``CTFpupilData`` / ``Pupil``, with BS7666 or line addresses and contacts."""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.sax.saxutils import escape


@dataclass
class Contact:
    forename: str = "Sarah"
    surname: str = "Okafor"
    relationship: str = "PAR"
    responsibility: str = "true"
    sex: str = "F"
    phones: tuple[str, ...] = ("07700 900123",)
    email: str = "sarah.okafor@example.com"
    order: str = "1"
    address_xml: str = "<Address><AddressAsPupil>true</AddressAsPupil></Address>"

    def xml(self) -> str:
        phones = "".join(
            f"<Phone><TelephoneType>M</TelephoneType><PhoneNo>{escape(p)}</PhoneNo></Phone>" for p in self.phones
        )
        return (
            f"<Contact><Order>{self.order}</Order><Title>Ms</Title><Surname>{escape(self.surname)}</Surname>"
            f"<Forename>{escape(self.forename)}</Forename><Sex>{self.sex}</Sex>"
            f"<Relationship>{self.relationship}</Relationship><Responsibility>{self.responsibility}</Responsibility>"
            f"{self.address_xml}<Phones>{phones}</Phones><Email>{escape(self.email)}</Email></Contact>"
        )


BS7666_ADDRESS = (
    "<Address><BS7666Address><SAON>Flat 2</SAON><PAON>14</PAON><Street>Church Street</Street>"
    "<Locality>Ashtead</Locality><Town>Leatherhead</Town><UniquePropertyReferenceNumber>100061234567"
    "</UniquePropertyReferenceNumber></BS7666Address><County>Surrey</County><PostCode>kt21 1aa</PostCode></Address>"
)
LINES_ADDRESS = (
    "<Address><AddressLines><AddressLine1>3 Mill Lane</AddressLine1><AddressLine2>Shere</AddressLine2>"
    "<AddressLine3>Guildford</AddressLine3></AddressLines><County>Surrey</County><PostCode>GU5 9HB</PostCode>"
    "</Address>"
)


@dataclass
class Pupil:
    forename: str = "Amara"
    surname: str = "Okafor"
    dob: str = "2014-03-27"
    sex: str = "F"
    sex_element: str = "Sex"
    upn: str = "H801200001001"
    middle_names: str = "Grace"
    year: str = "6"
    sen: str = ""
    in_care: str = ""
    address_xml: str = BS7666_ADDRESS
    contacts: list[Contact] = field(default_factory=lambda: [Contact()])

    def xml(self) -> str:
        sen = (
            "<SENhistory><SEN><StartDate>2022-09-01</StartDate>"
            f"<SENprovision>{self.sen}</SENprovision></SEN></SENhistory>"
        )
        care = f"<LookedAfter><InCare>{self.in_care}</InCare></LookedAfter>" if self.in_care else ""
        return (
            f"<Pupil><UPN>{escape(self.upn)}</UPN><Surname>{escape(self.surname)}</Surname>"
            f"<Forename>{escape(self.forename)}</Forename><DOB>{escape(self.dob)}</DOB>"
            f"<{self.sex_element}>{escape(self.sex)}</{self.sex_element}>"
            f"<BasicDetails><MiddleNames>{escape(self.middle_names)}</MiddleNames>"
            f"<NCyearActual>{escape(self.year)}</NCyearActual></BasicDetails>{care}{sen if self.sen else ''}"
            f"{self.address_xml}<Contacts>{''.join(c.xml() for c in self.contacts)}</Contacts></Pupil>"
        )


def ctf(
    pupils: list[Pupil],
    *,
    version: str = "25.0",
    source_la: str = "936",
    estab: str = "4001",
    school_name: str = "Ashcombe School",
    dest: tuple[str, str] = ("XXX", "XXXX"),
    prolog: str = '<?xml version="1.0" encoding="UTF-8"?>',
    root_attrs: str = "",
) -> bytes:
    header = (
        f"<Header><DocumentName>Common Transfer File</DocumentName><CTFversion>{version}</CTFversion>"
        "<DateTime>2026-11-20T10:30:00</DateTime><DocumentQualifier>partial</DocumentQualifier>"
        "<SupplierID>SIMS</SupplierID>"
        f"<SourceSchool><LEA>{source_la}</LEA><Estab>{estab}</Estab><SchoolName>{escape(school_name)}</SchoolName>"
        "<AcademicYear>2026</AcademicYear></SourceSchool>"
        f"<DestSchool><LEA>{dest[0]}</LEA><Estab>{dest[1]}</Estab></DestSchool></Header>"
    )
    body = "".join(p.xml() for p in pupils)
    return f"{prolog}<CTfile{root_attrs}>{header}<CTFpupilData>{body}</CTFpupilData></CTfile>".encode()


#: Three pupils leaving for home education, the third with Gender where the others have Sex.
PUPILS = [
    Pupil(),
    Pupil(forename="Tomasz", surname="Wiśniewski", dob="2013-01-09", upn=""),
    Pupil(forename="Zoë", surname="Nowak", dob="2015-06-30", upn="", sex="M", sex_element="Gender"),
]
