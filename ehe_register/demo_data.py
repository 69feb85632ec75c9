"""Demonstration data for `make run`: two LAs using the service, a user for every role, about 40
schools and about 300 home-educated children with their families, addresses and cases in every state.

Development only: the command refuses to run in production. Re-running changes nothing: LAs, staff,
schools and school users are created only when missing, and an LA that already holds demo cases
(episodes whose ``source_detail`` is ``DEMO_SOURCE_DETAIL``) is left alone.

Every random choice for an LA comes from ``random.Random(<its DfE code>)`` (Surrey: ``Random(936)``),
so each LA gets the same families whether or not the other was seeded; dates are counted back from
today so that an overdue case stays overdue whenever the demo is built.

Nobody real can be reached or matched: phone numbers are Ofcom's drama numbers (01632 960xxx,
07700 900xxx), email addresses are on example.org / example.com, NHS numbers start 999 (the range
kept for testing) and URNs start 990 (above any URN GIAS has issued, so a real extract never
overwrites a demo school).

Cases change state only through the workflow services: ``episode_open`` for fresh school
notifications (so the risk check and its escalations run), ``episodes_import`` for cases that enter
in a later state, and ``episode_transition`` for closures and front-door decisions.
"""

from __future__ import annotations

import functools
import random
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from ehe_register.models import (
    Absence,
    AbsenceKind,
    Address,
    AddressCheck,
    AddressKind,
    CheckMethod,
    CheckOutcome,
    Child,
    ChildPerson,
    LocalAuthority,
    OffRollNotification,
    Person,
    ReasonCode,
    Relationship,
    RemovalStatus,
    Routing,
    School,
    SenStatus,
    Sex,
    SocialCareStatus,
    User,
)
from ehe_register.roles import Role
from ehe_register.validators import UPN_LETTERS, nhs_check_digit, upn_check_letter
from ehe_register.working_days import add_working_days, at_local, is_working_day
from workflows.clocks import episodes_next_action_due_refresh
from workflows.models import Episode, Escalation
from workflows.services.bulk import episodes_import
from workflows.services.casework import consent_decide, cspa_decide
from workflows.services.escalations import escalation_acknowledge, escalation_raise
from workflows.services.intake import IntakeRecord, episode_open
from workflows.services.transitions import episode_transition
from workflows.states import ClosureReason, Priority, Source, State

DEMO_PASSWORD = "ehe-demo-2026"  # noqa: S105 - demonstration accounts only; refused in production
DEMO_SOURCE_DETAIL = "Demo data"


@dataclass(frozen=True)
class DemoLA:
    dfe_code: str
    council_name: str
    slug: str
    front_door_name: str
    front_door_short_name: str
    phone_block: int
    county: str
    children: int  # how many demo children live here


DEMO_LAS = [
    DemoLA(
        "936",
        "Surrey County Council",
        "surrey",
        "Children's Single Point of Access (C-SPA)",
        "C-SPA",
        100,
        "Surrey",
        230,
    ),
    DemoLA(
        "938", "West Sussex County Council", "westsussex", "Integrated Front Door (IFD)", "IFD", 200, "West Sussex", 70
    ),
]

DEMO_STAFF: list[tuple[str, str, str, Role]] = [
    ("officer", "Priya", "Shah", Role.EHE_OFFICER),
    ("officer2", "Tom", "Hughes", Role.EHE_OFFICER),
    ("officer3", "Grace", "Okafor", Role.EHE_OFFICER),
    ("cspa", "Daniel", "Reid", Role.CSPA_DUTY_WORKER),
    ("cspa.manager", "Fiona", "Campbell", Role.CSPA_MANAGER),
    ("manager", "Helen", "Price", Role.EHE_MANAGER),
    ("head", "Martin", "Cole", Role.HEAD_OF_SERVICE),
    ("auditor", "Ruth", "Adams", Role.AUDITOR),
]


@dataclass(frozen=True)
class DemoSchool:
    urn: str
    dfe_code: str
    establishment_number: str
    name: str
    type_name: str
    phase: str
    postcode: str
    town: str
    is_special: bool = False


_COMMUNITY, _VA, _FOUNDATION = "Community school", "Voluntary aided school", "Foundation school"
_CONVERTER, _SPONSORED = "Academy converter", "Academy sponsor led"
_PRIMARY, _SECONDARY, _NA = "Primary", "Secondary", "Not applicable"

DEMO_SCHOOLS = [
    DemoSchool("990101", "936", "2101", "Merrow Vale Primary School", _COMMUNITY, _PRIMARY, "GU1 2HW", "Guildford"),
    DemoSchool(
        "990102", "936", "2102", "Stoughton Grange Primary School", _COMMUNITY, _PRIMARY, "GU2 9QD", "Guildford"
    ),
    DemoSchool("990103", "936", "4101", "Kings Manor Academy", _CONVERTER, _SECONDARY, "GU2 8BN", "Guildford"),
    DemoSchool("990104", "936", "2103", "Woking Heath Primary School", _CONVERTER, _PRIMARY, "GU21 4AT", "Woking"),
    DemoSchool("990105", "936", "4102", "Horsell Common School", _SPONSORED, _SECONDARY, "GU21 4TB", "Woking"),
    DemoSchool("990106", "936", "2104", "Goldsworth Brook Infant School", _COMMUNITY, _PRIMARY, "GU22 7RF", "Woking"),
    DemoSchool("990107", "936", "4103", "Weydon Vale Academy", _CONVERTER, _SECONDARY, "GU9 8UG", "Farnham"),
    DemoSchool("990108", "936", "3101", "Hale Pond CofE Primary School", _VA, _PRIMARY, "GU9 9JX", "Farnham"),
    DemoSchool("990109", "936", "4104", "Camberley Heath Academy", _CONVERTER, _SECONDARY, "GU15 2PG", "Camberley"),
    DemoSchool("990110", "936", "2105", "Frimley Green Junior School", _FOUNDATION, _PRIMARY, "GU16 6LQ", "Camberley"),
    DemoSchool("990111", "936", "2106", "Ockford Ridge Primary School", _COMMUNITY, _PRIMARY, "GU7 1QY", "Godalming"),
    DemoSchool("990112", "936", "4105", "Haslemere Hillside Academy", _CONVERTER, _SECONDARY, "GU27 1BL", "Haslemere"),
    DemoSchool("990113", "936", "3102", "Cranleigh Knowle CofE Primary School", _VA, _PRIMARY, "GU6 8RD", "Cranleigh"),
    DemoSchool("990114", "936", "4106", "Epsom Downs Academy", _CONVERTER, _SECONDARY, "KT17 4JU", "Epsom"),
    DemoSchool("990115", "936", "2107", "Ewell Court Primary School", _COMMUNITY, _PRIMARY, "KT17 1NZ", "Epsom"),
    DemoSchool("990116", "936", "4107", "Mole Valley Academy", _SPONSORED, _SECONDARY, "KT22 8RY", "Leatherhead"),
    DemoSchool(
        "990117", "936", "2108", "Walton Riverside Primary School", _COMMUNITY, _PRIMARY, "KT12 2QS", "Walton-on-Thames"
    ),
    DemoSchool("990118", "936", "3103", "Esher Green CofE Primary School", _VA, _PRIMARY, "KT10 9SA", "Esher"),
    DemoSchool("990119", "936", "4108", "Brooklands Park Academy", _CONVERTER, _SECONDARY, "KT13 0TU", "Weybridge"),
    DemoSchool("990120", "936", "4109", "Priory Park School", _CONVERTER, _SECONDARY, "RH2 7RL", "Reigate"),
    DemoSchool(
        "990121", "936", "7103", "Earlswood Brook School", "Community special school", _NA, "RH1 6DN", "Redhill", True
    ),
    DemoSchool("990122", "936", "2109", "Denbies Primary School", _FOUNDATION, _PRIMARY, "RH4 1LH", "Dorking"),
    DemoSchool("990123", "936", "4110", "Langshott Academy", _CONVERTER, _SECONDARY, "RH6 9LN", "Horley"),
    DemoSchool("990124", "936", "4111", "Runnymede Meadows Academy", _CONVERTER, _SECONDARY, "TW20 9HR", "Egham"),
    DemoSchool(
        "990125", "936", "2110", "Thameside Primary School", _COMMUNITY, _PRIMARY, "TW18 3JB", "Staines-upon-Thames"
    ),
    DemoSchool("990126", "936", "2111", "Caterham Valley Primary School", _COMMUNITY, _PRIMARY, "CR3 5BX", "Caterham"),
    DemoSchool(
        "990127", "936", "7101", "Wey Meadows School", "Academy special converter", _NA, "GU1 1SJ", "Guildford", True
    ),
    DemoSchool(
        "990128", "936", "7102", "Chalk Hill School", "Community special school", _NA, "KT22 9BD", "Leatherhead", True
    ),
    DemoSchool("990201", "938", "4201", "Tilgate Forest Academy", _CONVERTER, _SECONDARY, "RH10 5EZ", "Crawley"),
    DemoSchool(
        "990202", "938", "2201", "Three Bridges Park Primary School", _COMMUNITY, _PRIMARY, "RH10 1LY", "Crawley"
    ),
    DemoSchool("990203", "938", "4202", "Chesworth Academy", _CONVERTER, _SECONDARY, "RH12 2EJ", "Horsham"),
    DemoSchool("990204", "938", "2202", "Southwater Green Primary School", _COMMUNITY, _PRIMARY, "RH13 9JH", "Horsham"),
    DemoSchool(
        "990205", "938", "2203", "Lindfield Common Primary School", _COMMUNITY, _PRIMARY, "RH16 2ES", "Haywards Heath"
    ),
    DemoSchool(
        "990206", "938", "4203", "Burgess Hill Meadows Academy", _SPONSORED, _SECONDARY, "RH15 0EG", "Burgess Hill"
    ),
    DemoSchool("990207", "938", "2204", "Broadwater Primary School", _COMMUNITY, _PRIMARY, "BN14 8JD", "Worthing"),
    DemoSchool("990208", "938", "4204", "Worthing Seafront Academy", _CONVERTER, _SECONDARY, "BN11 3PA", "Worthing"),
    DemoSchool("990209", "938", "2205", "Sompting Vale Primary School", _COMMUNITY, _PRIMARY, "BN15 0AZ", "Lancing"),
    DemoSchool("990210", "938", "4205", "Cathedral View Academy", _CONVERTER, _SECONDARY, "PO19 8AE", "Chichester"),
    DemoSchool("990211", "938", "3201", "Felpham Sands CofE Primary School", _VA, _PRIMARY, "PO22 7PR", "Bognor Regis"),
    DemoSchool(
        "990212",
        "938",
        "7201",
        "Arun Valley School",
        "Community special school",
        _NA,
        "BN17 6HQ",
        "Littlehampton",
        True,
    ),
]

# (user name, first name, last name, URNs). A trust's admissions officer submits for several schools;
# Langshott Academy in Horley is on the county border and also notifies children living in Crawley.
DEMO_SCHOOL_USERS: list[tuple[str, str, str, list[str]]] = [
    ("school.user", "Claire", "Morgan", ["990123"]),
    ("school.trust", "Joanna", "Whitfield", ["990103", "990112", "990127"]),
    ("westsussex.school", "Gareth", "Lloyd", ["990208"]),
]

# Postcode districts where the demo families live: (outward code, post town).
DEMO_PLACES: dict[str, list[tuple[str, str]]] = {
    "936": [
        ("GU1", "Guildford"), ("GU2", "Guildford"), ("GU4", "Guildford"), ("GU21", "Woking"), ("GU22", "Woking"),
        ("GU9", "Farnham"), ("GU15", "Camberley"), ("GU16", "Camberley"), ("GU7", "Godalming"),
        ("GU27", "Haslemere"), ("GU6", "Cranleigh"), ("KT17", "Epsom"), ("KT18", "Epsom"), ("KT22", "Leatherhead"),
        ("KT12", "Walton-on-Thames"), ("KT10", "Esher"), ("KT13", "Weybridge"), ("KT16", "Chertsey"),
        ("KT15", "Addlestone"), ("RH1", "Redhill"), ("RH2", "Reigate"), ("RH4", "Dorking"), ("RH6", "Horley"),
        ("RH8", "Oxted"), ("TW18", "Staines-upon-Thames"), ("TW20", "Egham"), ("TW16", "Sunbury-on-Thames"),
        ("CR3", "Caterham"), ("CR6", "Warlingham"),
    ],
    "938": [
        ("RH10", "Crawley"), ("RH11", "Crawley"), ("RH12", "Horsham"), ("RH13", "Horsham"), ("RH15", "Burgess Hill"),
        ("RH16", "Haywards Heath"), ("RH19", "East Grinstead"), ("BN11", "Worthing"), ("BN12", "Worthing"),
        ("BN13", "Worthing"), ("BN14", "Worthing"), ("BN15", "Lancing"), ("BN17", "Littlehampton"),
        ("BN43", "Shoreham-by-Sea"), ("PO19", "Chichester"), ("PO21", "Bognor Regis"), ("PO22", "Bognor Regis"),
    ],
}  # fmt: skip
# Where families lived before moving in from outside the LA: (outward code, town, county).
ELSEWHERE = [
    ("SW19", "London", ""), ("CR0", "Croydon", ""), ("SM1", "Sutton", ""), ("GU14", "Farnborough", "Hampshire"),
    ("SO23", "Winchester", "Hampshire"), ("TN1", "Tunbridge Wells", "Kent"), ("BN1", "Brighton", "East Sussex"),
    ("RG1", "Reading", "Berkshire"),
]  # fmt: skip
# UPNs issued by other LAs (characters 2-4) for children who started school elsewhere.
OTHER_UPN_LAS = ["850", "845", "886", "306", "319", "312", "871"]

STREETS = [
    "Meadow Close", "Church Road", "Station Approach", "The Ridgeway", "Oakfield Drive", "Chestnut Avenue",
    "Mill Lane", "Victoria Road", "Orchard Way", "Beech Grove", "Heathside Road", "Kingfisher Drive",
    "Poplar Walk", "Downs View", "Priory Lane", "Common Road", "Hillside Gardens", "Rectory Lane",
    "Willow Way", "Queens Road", "Farm Close", "Brook Lane", "St John's Road", "Elm Park", "Larch Crescent",
    "Copse Hill", "Nightingale Road", "The Green", "Park View", "Fairfield Rise", "Holly Bank", "Ashdown Road",
]  # fmt: skip
BUILDINGS = ["Hanover Court", "Riverside House", "Abbey Mews", "Coronation Flats", "Maple Lodge", "Regent House"]

GIRLS = [
    "Olivia", "Amelia", "Isla", "Ava", "Ivy", "Freya", "Lily", "Florence", "Mia", "Willow", "Rosie", "Sophia",
    "Isabella", "Grace", "Evie", "Poppy", "Ella", "Daisy", "Sienna", "Harper", "Aisha", "Zara", "Maya", "Amira",
    "Zofia", "Hanna", "Ruby", "Phoebe", "Matilda", "Erin", "Chloe", "Niamh", "Priya", "Esme", "Zoë", "Martha",
]  # fmt: skip
BOYS = [
    "Noah", "Oliver", "George", "Arthur", "Leo", "Muhammad", "Harry", "Oscar", "Archie", "Henry", "Theodore",
    "Freddie", "Jack", "Charlie", "Finley", "Alfie", "Thomas", "Jacob", "Reuben", "Isaac", "Samuel", "Joshua",
    "Kacper", "Jakub", "Mateo", "Rohan", "Ibrahim", "Yusuf", "Ethan", "Dylan", "Callum", "Kai", "Rhys", "Stanley",
    "Louis", "Elliot", "Rafael", "Tomás", "Alexander",
]  # fmt: skip
SHORT_NAMES = {
    "Theodore": "Teddy", "Alexander": "Alex", "Isabella": "Bella", "Matilda": "Tilly", "Samuel": "Sam",
    "Joshua": "Josh", "Florence": "Flo", "Frederick": "Freddie", "Thomas": "Tom", "Sophia": "Sophie",
}  # fmt: skip
WOMEN = [
    "Sarah", "Emma", "Laura", "Rachel", "Claire", "Nicola", "Joanne", "Kelly", "Gemma", "Hannah", "Amy", "Victoria",
    "Katie", "Lucy", "Samantha", "Fatima", "Agnieszka", "Ioana", "Nadia", "Shabana", "Leanne", "Charlotte",
    "Siobhan", "Mariana", "Chioma", "Anjali",
]  # fmt: skip
MEN = [
    "James", "David", "Daniel", "Mark", "Paul", "Richard", "Andrew", "Christopher", "Matthew", "Stephen", "Simon",
    "Lee", "Craig", "Gareth", "Tomasz", "Andrei", "Imran", "Tariq", "Kwame", "Ravi", "Sean", "Marcus", "Luke", "Adam",
]  # fmt: skip
SURNAMES = [
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Robinson", "Wright",
    "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Jackson", "Clarke", "Patel",
    "Khan", "Ahmed", "Hussain", "Nowak", "Popescu", "Okonkwo", "Mensah", "O'Connor", "Murphy", "Harris",
    "Martin", "Cooper", "King", "Baker", "Turner", "Hill", "Morris", "Ward", "Carter", "Mitchell", "Bennett",
    "Gray", "Lewis", "Singh", "Da Silva", "Nguyen", "Ali", "Fletcher-Brown", "Kowalczyk", "Ionescu", "Sharma",
]  # fmt: skip
# Families who may need an interpreter, by surname.
LANGUAGES = {
    "Nowak": "Polish", "Kowalczyk": "Polish", "Popescu": "Romanian", "Ionescu": "Romanian", "Da Silva": "Portuguese",
    "Nguyen": "Vietnamese", "Ahmed": "Arabic", "Hussain": "Urdu", "Ali": "Bengali",
}  # fmt: skip
CONTACT_PREFERENCES = [
    "Prefers email",
    "Phone after 3pm; works mornings",
    "Text first, then call",
    "Letters to the address, please: no email",
]
REASONS = [
    (ReasonCode.PHILOSOPHICAL, 20), (ReasonCode.LIFESTYLE, 6), (ReasonCode.RELIGIOUS, 4),
    (ReasonCode.MENTAL_HEALTH, 16), (ReasonCode.PHYSICAL_HEALTH, 4), (ReasonCode.DISSATISFIED_GENERAL, 10),
    (ReasonCode.DISSATISFIED_SEND, 9), (ReasonCode.DISSATISFIED_BULLYING, 7), (ReasonCode.NO_PREFERENCE, 3),
    (ReasonCode.RISK_OF_EXCLUSION, 3), (ReasonCode.OFF_ROLLING, 2), (ReasonCode.OTHER, 4),
    (ReasonCode.NO_REASON_GIVEN, 7), (ReasonCode.UNKNOWN, 2),
]  # fmt: skip
_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # the letters Royal Mail uses in the last two places


# Plans: what happened to a family's case(s). Imported plans enter through ``episodes_import``.
IMPORT_PLANS: list[tuple[str, float]] = [
    ("address_verification", 7),
    ("address_verification_overdue", 4),
    ("education_enquiry", 9),
    ("education_enquiry_overdue", 3),
    ("monitoring", 48),
    ("review_due", 3),
    ("review_overdue", 2.5),
    ("missing_education", 2),
    ("s437_notice", 1.5),
    ("attendance_order", 0.5),
    ("closed", 12),
    ("closed_over_age", 1),
    ("returned_then_withdrawn_again", 3),
]
# One single-child family of each of these per LA, so every state is on show whatever the dice say.
GUARANTEED_PLANS = [
    "notified",
    "address_verification",
    "education_enquiry",
    "monitoring",
    "review_due",
    "missing_education",
    "s437_notice",
    "attendance_order",
    "closed",
    "closed_over_age",
]


@dataclass(frozen=True)
class FreshCase:
    """A school notification received in the last few days, opened through ``episode_open``."""

    urn: str
    working_days_ago: int
    concern: bool = False
    social_care: str = SocialCareStatus.NONE
    sen: str = SenStatus.NONE
    special_school_placed_by_la: bool = False
    checks: tuple[str, ...] = ()  # CheckMethod values recorded so far (never both: not yet verified)
    place: tuple[str, str] | None = None  # where the child lives, if not the school's own district
    history: str = ""  # "closed_with_concerns": an earlier case; "consent_refused": closed by refusal


FRESH_CASES: dict[str, list[FreshCase]] = {
    "936": [
        FreshCase("990123", 0, concern=True),
        FreshCase("990103", 1, concern=True),
        FreshCase("990112", 3, concern=True, social_care=SocialCareStatus.CHILD_IN_NEED),
        FreshCase("990123", 2, sen=SenStatus.EHCP),
        FreshCase("990127", 4, sen=SenStatus.EHCP, special_school_placed_by_la=True),
        FreshCase("990103", 1),
        FreshCase("990123", 5, checks=(CheckMethod.FAMILY,)),
        FreshCase("990112", 7, checks=(CheckMethod.SCHOOL,)),
        FreshCase("990127", 2, sen=SenStatus.EHCP, special_school_placed_by_la=True, history="closed_with_concerns"),
        FreshCase("990127", 45, sen=SenStatus.EHCP, special_school_placed_by_la=True, history="consent_refused"),
    ],
    "938": [
        FreshCase("990208", 0, concern=True),
        FreshCase("990208", 2, sen=SenStatus.EHCP),
        FreshCase("990208", 3, social_care=SocialCareStatus.CHILD_PROTECTION_PLAN),
        FreshCase("990123", 1, place=("RH10", "Crawley")),  # a Surrey school, a child living in West Sussex
        FreshCase("990208", 6, checks=(CheckMethod.FAMILY,)),
    ],
}

EARLIER_CASE_WORKING_DAYS_AGO = 420  # the earlier case of the child whose case closed with concerns

CONCERNS = [
    "Pupil has disclosed that an older sibling hits them; last raised with the DSL three weeks ago.",
    "Pupil often arrives hungry and in unwashed clothes; attendance 61% this term; home visits not answered.",
    "Parent withdrew the pupil the day after staff asked about bruising on the pupil's arm.",
    "Pupil said they are scared to go home when mum's partner is there; referral made to the front door.",
]


@dataclass
class _Check:
    method: str
    outcome: str
    at: datetime
    notes: str = ""


@dataclass
class _CaseSpec:
    """One imported case: the state it enters in, and what the record already says."""

    state: str
    received_on: date
    assigned: bool = True
    review_due_on: date | None = None
    checks: list[_Check] = field(default_factory=list)
    contacts_verified_at: datetime | None = None
    first_contact_at: datetime | None = None
    child_seen_at_home_at: datetime | None = None
    priority: int = Priority.NORMAL
    s437_served_on: date | None = None
    s437_served_how: str = ""
    attendance_order_served_on: date | None = None
    closure: tuple[str, str, datetime] | None = None  # (reason, text, when): closed after the import
    escalation: tuple[str, datetime] | None = None  # (rule, raised at)


@dataclass
class _Family:
    plan: str
    place: tuple[str, str]
    people: list[Person] = field(default_factory=list)
    links: list[tuple[str, bool, bool]] = field(default_factory=list)  # per person: relationship, PR, lives with
    children: list[Child] = field(default_factory=list)
    address: Address | None = None
    previous: Address | None = None
    educator: int = 0
    hours: Decimal = Decimal("20.0")
    fresh: FreshCase | None = None
    specs: list[_CaseSpec] = field(default_factory=list)  # imported cases, oldest first


def _user(username: str, first: str, last: str, roles: list[Role], la: LocalAuthority | None) -> User:
    user, created = User.objects.get_or_create(
        username=username,
        defaults={"first_name": first, "last_name": last, "email": f"{username}@example.org", "local_authority": la},
    )
    if created:
        user.password = _demo_password_hash()
        user.save(update_fields=["password"])
    user.groups.add(*Group.objects.filter(name__in=[r.value for r in roles]))
    return user


@functools.cache
def _demo_password_hash() -> str:
    """Hashed once per process: hashing is deliberately slow, and every demo account shares the
    published password anyway."""
    return make_password(DEMO_PASSWORD)


@transaction.atomic
def demo_seed() -> None:
    for demo in DEMO_LAS:
        la = LocalAuthority.objects.get(dfe_code=demo.dfe_code)
        block = demo.phone_block
        LocalAuthority.objects.filter(pk=la.pk).update(
            uses_service=True,
            council_name=demo.council_name,
            front_door_name=demo.front_door_name,
            front_door_short_name=demo.front_door_short_name,
            front_door_email=f"front.door@{demo.slug}.example.org",
            front_door_phone=f"01632 960{block:03d}",
            front_door_out_of_hours_phone=f"01632 960{block + 1:03d}",
            sen_team_email=f"sen.team@{demo.slug}.example.org",
            ehe_team_email=f"ehe.team@{demo.slug}.example.org",
            ehe_team_phone=f"01632 960{block + 2:03d}",
        )
        for suffix, first, last, role in DEMO_STAFF:
            _user(f"{demo.slug}.{suffix}", first, last, [role], la)
    admin = _user("admin", "Sam", "Admin", [Role.ADMINISTRATOR], None)
    if not admin.is_staff:
        admin.is_staff = admin.is_superuser = True
        admin.save(update_fields=["is_staff", "is_superuser"])
    schools = _schools_seed()
    for username, first, last, urns in DEMO_SCHOOL_USERS:
        school_user = _user(username, first, last, [Role.SCHOOL_USER], None)
        school_user.schools.add(*(schools[urn] for urn in urns))
    for demo in DEMO_LAS:
        la = LocalAuthority.objects.get(dfe_code=demo.dfe_code)
        if not Episode.objects.filter(local_authority=la, source_detail=DEMO_SOURCE_DETAIL).exists():
            _DemoCases(demo, la, schools).seed()


def demo_logins() -> list[tuple[str, str]]:
    """(user name, role label) for every demo account, for the README and `make run`'s banner."""
    rows = []
    for user in User.objects.filter(username__in=_demo_usernames()).prefetch_related("groups").order_by("username"):
        labels = ", ".join(Role(g.name).label for g in user.groups.all())
        rows.append((user.username, labels))
    return rows


def _demo_usernames() -> list[str]:
    names = [f"{demo.slug}.{suffix}" for demo in DEMO_LAS for suffix, *_ in DEMO_STAFF]
    return [*names, *(username for username, *_ in DEMO_SCHOOL_USERS), "admin"]


def _schools_seed() -> dict[str, School]:
    las = {la.dfe_code: la for la in LocalAuthority.objects.filter(dfe_code__in={s.dfe_code for s in DEMO_SCHOOLS})}
    existing = {school.urn: school for school in School.objects.filter(urn__in=[s.urn for s in DEMO_SCHOOLS])}
    School.objects.bulk_create(
        School(
            urn=s.urn,
            local_authority=las[s.dfe_code],
            establishment_number=s.establishment_number,
            name=s.name,
            type_name=s.type_name,
            phase=s.phase,
            is_special=s.is_special,
            postcode=s.postcode,
            opened_on=date(2011, 9, 1) if s.type_name.startswith("Academy") else date(1974, 4, 1),
        )
        for s in DEMO_SCHOOLS
        if s.urn not in existing
    )
    return {school.urn: school for school in School.objects.filter(urn__in=[s.urn for s in DEMO_SCHOOLS])}


def _email_part(name: str) -> str:
    """A name as it goes into an email address: "O'Connor" -> "oconnor", "Zoë" -> "zoe"."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed if c.isalnum() and not unicodedata.combining(c)).lower()


def _working_days_before(day: date, n: int) -> date:
    while n > 0:
        day -= timedelta(days=1)
        n -= is_working_day(day)
    return day


class _DemoCases:
    """Builds one LA's families and cases. All randomness comes from ``self.rng``, in a fixed order."""

    def __init__(self, demo: DemoLA, la: LocalAuthority, schools: dict[str, School]) -> None:
        self.demo = demo
        self.la = la
        self.schools = schools
        self.rng = random.Random(int(demo.dfe_code))  # noqa: S311 - repeatable demo data, not secrets
        self.now = timezone.now()
        self.today = timezone.localdate()
        slug = demo.slug
        staff = {u.username: u for u in User.objects.filter(username__startswith=f"{slug}.")}
        self.officers = [staff[f"{slug}.officer"], staff[f"{slug}.officer2"], staff[f"{slug}.officer3"]]
        self.manager = staff[f"{slug}.manager"]
        self.front_door = staff[f"{slug}.cspa"]
        users = {u.username: u for u in User.objects.filter(username__in=[name for name, *_ in DEMO_SCHOOL_USERS])}
        self.school_users = {urn: users[name] for name, _, _, urns in DEMO_SCHOOL_USERS for urn in urns}
        # Ofcom drama numbers, split between the LAs so no two demo parents share a number; 960000-960099
        # are the schools' safeguarding leads and 960100-960299 the LAs' own lines.
        mobiles = range(900000, 900700) if demo.dfe_code == "936" else range(900700, 901000)
        landlines = (
            range(960400, 960900) if demo.dfe_code == "936" else [*range(960300, 960400), *range(960900, 961000)]
        )
        self.mobiles = iter(self.rng.sample(list(mobiles), len(mobiles)))
        self.landlines = iter(self.rng.sample(list(landlines), len(landlines)))
        self.upns: set[str] = set()
        self.nhs_numbers: set[str] = set()
        self.notifications: list[OffRollNotification] = []
        self.checks: list[AddressCheck] = []
        self.episode_facts: list[Episode] = []
        self.current_address: dict[int, Address] = {}

    # -- the whole LA ---------------------------------------------------------------------------

    def seed(self) -> None:
        families = self._families()
        self._families_save(families)
        for family in families:
            if family.fresh is not None:
                self._fresh_case(family, family.fresh)
            else:
                self._imported_cases(family)
        # Fresh notifications' later work (an officer took the case and phoned the family).
        Episode.objects.bulk_update(self.episode_facts, ["assigned_officer", "first_contact_at"])
        # The clocks read the facts just written (a first contact), as they would have at the
        # events themselves: never a date written by hand.
        episodes_next_action_due_refresh(episode_ids=[e.pk for e in self.episode_facts], as_of=self.now)
        self.notifications.sort(key=lambda n: n.submitted_at)
        for number, notification in enumerate(self.notifications, start=1):  # numbered in order of receipt
            notification.reference = f"DEMO-{self.demo.dfe_code}-{number:04d}"
        OffRollNotification.objects.bulk_create(self.notifications)
        AddressCheck.objects.bulk_create(self.checks)
        self._absences()

    def _families(self) -> list[_Family]:
        rng = self.rng
        families = [self._family(f"fresh:{case.urn}", size=1, fresh=case) for case in FRESH_CASES[self.demo.dfe_code]]
        families += [self._family(plan, size=1) for plan in GUARANTEED_PLANS]
        plans, weights = zip(*IMPORT_PLANS, strict=True)
        count = sum(len(f.children) for f in families)
        while count < self.demo.children:
            plan = rng.choices(plans, weights=weights)[0]
            size = min(rng.choices([1, 2, 3], weights=[78, 17, 5])[0], self.demo.children - count)
            if plan == "closed_over_age":  # younger siblings would still be of school age
                size = 1
            families.append(self._family(plan, size=size))
            count += size
        return families

    # -- people and places ----------------------------------------------------------------------

    def _family(self, plan: str, *, size: int, fresh: FreshCase | None = None) -> _Family:
        rng = self.rng
        school = next((s for s in DEMO_SCHOOLS if fresh is not None and s.urn == fresh.urn), None)
        if fresh is not None and school is not None:  # the school's own district, unless the case says
            place = fresh.place or (school.postcode.split()[0], school.town)
        else:
            place = rng.choice(DEMO_PLACES[self.demo.dfe_code])
        phase = school.phase if school is not None else ""
        family = _Family(plan=plan, place=place, fresh=fresh)
        family.specs = self._specs(plan) if fresh is None else []
        surname = rng.choice(SURNAMES)
        self._carers(family, surname)
        language = LANGUAGES.get(surname, "") if rng.random() < 0.3 else ""
        confidential = rng.random() < 0.03
        for age_days in self._ages(family, phase, size):
            family.children.append(self._child(surname, age_days, language, confidential, fresh))
        family.address, family.previous = self._addresses(family, rng.random() < 0.25)
        family.educator = 0 if len(family.people) == 1 or rng.random() < 0.75 else 1
        family.hours = Decimal(rng.randrange(20, 61)) / 2
        return family

    def _ages(self, family: _Family, phase: str, size: int) -> list[int]:
        """Siblings' ages in days, youngest first: every child was of school age when first notified,
        and is still of school age unless the case closed when they left it."""
        rng = self.rng
        if family.plan == "closed_over_age":
            return [rng.randint(17 * 365 + 100, 17 * 365 + 300)]
        low, high = {_SECONDARY: (11 * 365 + 30, 15 * 365 + 300), _PRIMARY: (5 * 365 + 30, 10 * 365 + 300)}.get(
            phase, (6 * 365, 15 * 365)
        )
        low = max(low, 5 * 365 + 30 + (self.today - self._first_received(family)).days)
        ages = [rng.randint(low, max(low, high))]
        for _ in range(size - 1):
            ages.append(min(ages[-1] + rng.randint(400, 1400), 16 * 365 + 200))
        return ages

    def _first_received(self, family: _Family) -> date:
        """When the LA first heard of the family (today for a notification still to come in)."""
        if family.fresh is not None and family.fresh.history == "closed_with_concerns":
            return _working_days_before(self.today, EARLIER_CASE_WORKING_DAYS_AGO)
        return min((spec.received_on for spec in family.specs), default=self.today)

    def _carers(self, family: _Family, surname: str) -> None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.04:
            family.links = [
                (Relationship.GRANDPARENT if rng.random() < 0.6 else Relationship.KINSHIP_CARER, True, True)
            ]
            family.people.append(self._person(rng.choice(WOMEN), surname))
            return
        pairs: list[tuple[str, bool, bool]]
        mother_surname = surname if rng.random() < 0.8 else rng.choice(SURNAMES)
        mother_first = rng.choice(WOMEN)
        if roll < 0.36:  # one parent
            if rng.random() < 0.85:
                pairs = [(Relationship.MOTHER, True, True)]
                family.people.append(self._person(mother_first, mother_surname))
            else:
                pairs = [(Relationship.FATHER, True, True)]
                family.people.append(self._person(rng.choice(MEN), surname))
        else:
            family.people.append(self._person(mother_first, mother_surname))
            second = rng.random()
            if second < 0.8:
                pairs = [(Relationship.MOTHER, True, True), (Relationship.FATHER, True, rng.random() < 0.85)]
                family.people.append(self._person(rng.choice(MEN), surname))
            elif second < 0.97:
                pairs = [(Relationship.MOTHER, True, True), (Relationship.STEP_PARENT, False, True)]
                family.people.append(self._person(rng.choice(MEN), rng.choice(SURNAMES)))
            else:
                pairs = [(Relationship.MOTHER, True, True), (Relationship.MOTHER, True, True)]
                family.people.append(self._person(rng.choice(WOMEN), rng.choice(SURNAMES)))
        family.links = pairs

    def _person(self, first: str, last: str) -> Person:
        rng = self.rng
        email = ""
        if rng.random() < 0.7:
            email = f"{_email_part(first)}.{_email_part(last)}{rng.randint(1, 99)}@example.com"
        return Person(
            local_authority=self.la,
            first_name=first,
            last_name=last,
            emergency_phone=f"07700 {next(self.mobiles)}",
            other_phone=f"01632 {next(self.landlines)}" if rng.random() < 0.35 else "",
            email=email,
        )

    def _child(self, surname: str, age_days: int, language: str, confidential: bool, fresh: FreshCase | None) -> Child:
        rng = self.rng
        sex = rng.choice([Sex.FEMALE, Sex.MALE])
        first = rng.choice(GIRLS if sex == Sex.FEMALE else BOYS)
        middle = rng.choice(GIRLS if sex == Sex.FEMALE else BOYS) if rng.random() < 0.4 else ""
        date_of_birth = self.today - timedelta(days=age_days)
        sen: str = rng.choices([SenStatus.NONE, SenStatus.SEN_SUPPORT, SenStatus.EHCP], weights=[81, 15, 4])[0]
        social_care: str = SocialCareStatus.CHILD_IN_NEED if rng.random() < 0.02 else SocialCareStatus.NONE
        if fresh is not None:
            sen, social_care = fresh.sen, fresh.social_care
        upn = self._upn(date_of_birth) if rng.random() < 0.88 else ""
        former_upns = []
        if upn and rng.random() < 0.03:  # a temporary UPN, replaced when the permanent one was found
            former_upns = [self._upn(date_of_birth, temporary=True)]
        nhs_number = self._nhs_number() if rng.random() < 0.45 else ""
        former_names = [f"{first} {rng.choice(SURNAMES)}"] if rng.random() < 0.03 else []
        return Child(
            local_authority=self.la,
            legal_first_name=first,
            legal_middle_names=middle,
            legal_last_name=surname,
            preferred_first_name=SHORT_NAMES.get(first, "") if rng.random() < 0.5 else "",
            former_names=former_names,
            date_of_birth=date_of_birth,
            sex=sex,
            upn=upn,
            former_upns=former_upns,
            nhs_number=nhs_number,
            sen_status=sen,
            social_care_status=social_care,
            social_worker_email=(
                f"social.worker{rng.randint(1, 40)}@{self.demo.slug}.example.org"
                if social_care != SocialCareStatus.NONE
                else ""
            ),
            confidential_address=confidential,
            interpreter_needed=bool(language),
            language=language,
            contact_preferences=rng.choice(CONTACT_PREFERENCES) if rng.random() < 0.2 else "",
        )

    def _upn(self, date_of_birth: date, *, temporary: bool = False) -> str:
        """LA code, school establishment number, year of allocation, serial; a temporary UPN ends
        in a letter. Never repeated within the LA."""
        rng = self.rng
        while True:
            la_code = self.demo.dfe_code if rng.random() < 0.85 else rng.choice(OTHER_UPN_LAS)
            year = (date_of_birth.year + 4) % 100
            serial = f"{rng.randint(0, 99):02d}" + (rng.choice(UPN_LETTERS) if temporary else str(rng.randint(0, 9)))
            body = f"{la_code}{rng.choice([2, 3, 5])}{rng.randint(0, 999):03d}{year:02d}{serial}"
            upn = upn_check_letter(body) + body
            if upn not in self.upns:
                self.upns.add(upn)
                return upn

    def _nhs_number(self) -> str:
        rng = self.rng
        while True:
            first_nine = f"999{rng.randint(0, 999999):06d}"
            check = nhs_check_digit(first_nine)
            if check is not None and first_nine + str(check) not in self.nhs_numbers:
                self.nhs_numbers.add(first_nine + str(check))
                return first_nine + str(check)

    def _postcode(self, outward: str) -> str:
        rng = self.rng
        return f"{outward} {rng.randint(1, 9)}{rng.choice(_INWARD_LETTERS)}{rng.choice(_INWARD_LETTERS)}"

    def _street_address(self) -> tuple[str, str]:
        rng = self.rng
        street = rng.choice(STREETS)
        if rng.random() < 0.15:
            return f"Flat {rng.randint(1, 24)}, {rng.choice(BUILDINGS)}", street
        return f"{rng.randint(1, 180)} {street}", ""

    def _addresses(self, family: _Family, moved: bool) -> tuple[Address, Address | None]:
        rng = self.rng
        outward, town = family.place
        line_1, line_2 = self._street_address()
        # The family lived at the current address before the LA first heard of them, so every
        # check on record is a check of this address.
        moved_in = self._first_received(family) - timedelta(
            days=rng.randint(30, 900) if moved else rng.randint(200, 3000)
        )
        current = Address(
            local_authority=self.la,
            kind=AddressKind.CURRENT,
            line_1=line_1,
            line_2=line_2,
            town=town,
            county=self.demo.county,
            postcode=self._postcode(outward),
            valid_from=moved_in,
        )
        if not moved:
            return current, None
        if rng.random() < 0.6:
            before_outward, before_town = rng.choice(DEMO_PLACES[self.demo.dfe_code])
            before_county = self.demo.county
        else:
            before_outward, before_town, before_county = rng.choice(ELSEWHERE)
        line_1, line_2 = self._street_address()
        previous = Address(
            local_authority=self.la,
            kind=AddressKind.PREVIOUS,
            line_1=line_1,
            line_2=line_2,
            town=before_town,
            county=before_county,
            postcode=self._postcode(before_outward),
            valid_from=moved_in - timedelta(days=rng.randint(400, 2500)),
            valid_to=moved_in - timedelta(days=1),
        )
        return current, previous

    def _families_save(self, families: Sequence[_Family]) -> None:
        Person.objects.bulk_create([p for f in families for p in f.people])
        Child.objects.bulk_create([c for f in families for c in f.children])
        links, addresses = [], []
        for family in families:
            for child in family.children:
                for index, (person, (relationship, responsibility, lives_with)) in enumerate(
                    zip(family.people, family.links, strict=True)
                ):
                    educating = index == family.educator
                    links.append(
                        ChildPerson(
                            child=child,
                            person=person,
                            relationship=relationship,
                            parental_responsibility=responsibility,
                            lives_with_child=lives_with or educating,
                            is_educating_parent=educating,
                            educating_hours_per_week=family.hours if educating else None,
                        )
                    )
                for template in (family.address, family.previous):
                    if template is not None:
                        addresses.append(_copy_address(template, child))
        ChildPerson.objects.bulk_create(links)
        Address.objects.bulk_create(addresses)
        self.current_address = {a.child_id: a for a in addresses if a.kind == AddressKind.CURRENT}

    # -- imported cases -------------------------------------------------------------------------

    def _specs(self, plan: str) -> list[_CaseSpec]:
        if plan != "returned_then_withdrawn_again":
            return [self._spec(plan)]
        earlier = self._spec("closed", received_days=(900, 1300))
        assert earlier.closure is not None
        closed_days_ago = (self.today - earlier.closure[2].date()).days
        later_plan = self.rng.choice(["monitoring", "education_enquiry", "review_due"])
        return [earlier, self._spec(later_plan, received_days=(60, min(closed_days_ago - 30, 500)))]

    def _imported_cases(self, family: _Family) -> None:
        officer = self.rng.choice(self.officers)
        reason_code = self._reason_code()
        for spec in family.specs:
            records = [
                IntakeRecord(
                    known_child_id=child.pk,
                    local_authority_id=self.la.pk,
                    source=Source.IMPORT,
                    state=spec.state,
                    received_on=spec.received_on,
                    source_detail=DEMO_SOURCE_DETAIL,
                    assigned_officer_id=officer.pk if spec.assigned else None,
                    review_due_on=spec.review_due_on,
                    reason_code=reason_code,
                    priority=spec.priority,
                    contacts_verified_at=spec.contacts_verified_at,
                    first_contact_at=spec.first_contact_at,
                    child_seen_at_home_at=spec.child_seen_at_home_at,
                    s437_served_on=spec.s437_served_on,
                    s437_served_how=spec.s437_served_how,
                    attendance_order_served_on=spec.attendance_order_served_on,
                )
                for child in family.children
            ]
            imported_at = min(at_local(spec.received_on, time(16, 30)), self.now)
            episodes = episodes_import(
                records=records,
                as_of=imported_at,
                reason="Carried over from the council's previous EHE database",
            )
            for episode in episodes:
                self._checks(episode, spec, officer if spec.assigned else None)
                if spec.closure is not None:
                    closure_reason, closure_text, closed_at = spec.closure
                    episode_transition(
                        episode_id=episode.pk,
                        transition="close",
                        actor=officer,
                        expected_version=None,
                        as_of=closed_at,
                        reason=closure_text,
                        closure_reason=closure_reason,
                        closure_text=closure_text,
                    )
                if spec.escalation is not None:
                    escalation_raise(episode=episode, rule_name=spec.escalation[0], as_of=spec.escalation[1])

    def _reason_code(self) -> str:
        codes, weights = zip(*REASONS, strict=True)
        return str(self.rng.choices(codes, weights=weights)[0])

    def _days_ago(self, low: int, high: int) -> date:
        return self.today - timedelta(days=self.rng.randint(low, high))

    def _moment(self, day: date) -> datetime:
        """A time in office hours on ``day`` (or the next working day), never later than now."""
        rng = self.rng
        day = add_working_days(day, 0)
        return min(at_local(day, time(rng.randint(9, 15), rng.choice([0, 10, 20, 30, 40, 50]))), self.now)

    def _spec(self, plan: str, received_days: tuple[int, int] | None = None) -> _CaseSpec:
        rng = self.rng
        today = self.today

        def received(low: int, high: int) -> date:
            day = self._days_ago(*(received_days or (low, high)))
            return day if is_working_day(day) else _working_days_before(day, 1)

        if plan == "notified":
            return _CaseSpec(State.NOTIFIED, _working_days_before(today, 1), assigned=False)
        if plan in ("address_verification", "address_verification_overdue"):
            overdue = plan.endswith("overdue")
            spec = _CaseSpec(State.ADDRESS_VERIFICATION, received(28, 50) if overdue else received(4, 12))
            spec.assigned = rng.random() < (0.7 if overdue else 0.5)
            tried = min(spec.received_on + timedelta(days=3), today - timedelta(days=1))
            if overdue:
                spec.checks.append(
                    _Check(
                        CheckMethod.FAMILY,
                        CheckOutcome.COULD_NOT_CONFIRM,
                        self._moment(tried),
                        "No answer; voicemail left twice",
                    )
                )
                unverified_by = add_working_days(spec.received_on, self.la.contacts_unverified_working_days)
                spec.escalation = ("contacts_unverified", at_local(unverified_by, time(9, 0)))
            elif rng.random() < 0.5 and tried > spec.received_on:
                spec.checks.append(
                    _Check(CheckMethod.FAMILY, CheckOutcome.CONFIRMED, self._moment(tried), "Spoke to mum")
                )
                spec.first_contact_at = spec.checks[-1].at
            return spec
        if plan in ("education_enquiry", "education_enquiry_overdue"):
            overdue = plan.endswith("overdue")
            # The enquiry's clock: 20 working days from first contact (a few days after receipt).
            spec = _CaseSpec(State.EDUCATION_ENQUIRY, received(50, 100) if overdue else received(10, 25))
            self._verify(spec, spec.received_on + timedelta(days=rng.randint(3, 12)))
            return spec
        if plan == "monitoring":
            spec = _CaseSpec(State.MONITORING, received(90, 1100))
            self._verify_and_recheck(spec)
            spec.review_due_on = self._days_ago(-330, -30)
            spec.assigned = rng.random() < 0.9
            return spec
        if plan in ("review_due", "review_overdue"):
            spec = _CaseSpec(State.REVIEW_DUE, received(330, 1100))
            self._verify_and_recheck(spec)
            if plan == "review_overdue":
                spec.review_due_on = today - timedelta(days=rng.randint(3, 45))
                spec.escalation = ("review_overdue", at_local(spec.review_due_on + timedelta(days=1), time(7, 0)))
            else:
                spec.review_due_on = self._days_ago(-27, -1)
            return spec
        if plan == "missing_education":
            spec = _CaseSpec(State.MISSING_EDUCATION, received(40, 160), priority=Priority.HIGH)
            start = spec.received_on
            spec.checks += [
                _Check(
                    CheckMethod.FAMILY,
                    CheckOutcome.COULD_NOT_CONFIRM,
                    self._moment(start + timedelta(days=3)),
                    "Number unobtainable",
                ),
                _Check(
                    CheckMethod.HOME_VISIT,
                    CheckOutcome.COULD_NOT_CONFIRM,
                    self._moment(start + timedelta(days=10)),
                    "No one at the address; a neighbour thinks the family moved away in the summer",
                ),
            ]
            return spec
        if plan == "s437_notice":
            spec = _CaseSpec(State.S437_NOTICE, received(200, 500), priority=Priority.HIGH)
            self._verify_and_recheck(spec)
            spec.s437_served_on = today - timedelta(days=rng.randint(3, 40))
            spec.s437_served_how = rng.choice(["Hand delivered by the EHE officer", "First class post and email"])
            return spec
        if plan == "attendance_order":
            spec = _CaseSpec(State.ATTENDANCE_ORDER, received(300, 600), priority=Priority.HIGH)
            self._verify_and_recheck(spec)
            spec.s437_served_on = today - timedelta(days=rng.randint(70, 120))
            spec.s437_served_how = "Hand delivered by the EHE officer"
            spec.attendance_order_served_on = spec.s437_served_on + timedelta(days=rng.randint(20, 35))
            return spec
        if plan in ("closed", "closed_over_age"):
            spec = _CaseSpec(State.MONITORING, received(200, 1000) if plan == "closed" else received(700, 900))
            self._verify(spec, spec.received_on + timedelta(days=rng.randint(4, 14)))
            age = (today - spec.received_on).days
            closed_on = spec.received_on + timedelta(days=rng.randint(60, min(400, age - 30)))
            if plan == "closed_over_age":
                closed_on = self._days_ago(120, 200)
                reason, text = ClosureReason.OVER_SCHOOL_AGE, "Past compulsory school age; no further action"
            else:
                reason, text = rng.choices(
                    [
                        (ClosureReason.RETURNED_TO_SCHOOL, "Returned to school; place confirmed by the school"),
                        (ClosureReason.MOVED_OUT, "Moved to Hampshire; Hampshire County Council told"),
                        (ClosureReason.OTHER, "Family emigrated to Spain"),
                    ],
                    weights=[65, 25, 10],
                )[0]
            spec.review_due_on = spec.received_on + timedelta(days=365)
            spec.closure = (reason, text, self._moment(closed_on))
            return spec
        raise ValueError(f"No demo plan called {plan!r}")

    def _verify(self, spec: _CaseSpec, day: date) -> None:
        """Family first, then one independent source: contact details become verified."""
        rng = self.rng
        day = min(day, self.today - timedelta(days=1))
        family_call = self._moment(day - timedelta(days=rng.randint(0, 2)))
        spec.checks.append(
            _Check(CheckMethod.FAMILY, CheckOutcome.CONFIRMED, family_call, "Confirmed by phone with the parent")
        )
        if rng.random() < 0.7:
            visit = max(self._moment(day), family_call + timedelta(hours=1))
            spec.checks.append(_Check(CheckMethod.HOME_VISIT, CheckOutcome.CONFIRMED, visit, "Child seen at home"))
            spec.child_seen_at_home_at = visit
        else:
            record = max(self._moment(day), family_call + timedelta(minutes=30))
            source = rng.choice(["GP practice registration", "Council tax record", "Health visitor's record"])
            spec.checks.append(
                _Check(CheckMethod.OTHER_AGENCY, CheckOutcome.CONFIRMED, record, f"Matches the {source}")
            )
        spec.first_contact_at = spec.first_contact_at or family_call
        spec.contacts_verified_at = spec.checks[-1].at

    def _verify_and_recheck(self, spec: _CaseSpec) -> None:
        """Verified soon after receipt; cases older than about a year re-checked since (so not stale)."""
        self._verify(spec, spec.received_on + timedelta(days=self.rng.randint(4, 14)))
        if (self.today - spec.received_on).days > 330:
            self._verify(spec, self._days_ago(20, 300))

    def _checks(self, episode: Episode, spec: _CaseSpec, officer: User | None) -> None:
        """The address checks the old record holds, on the imported case."""
        checker = officer or self.officers[0]
        address = self.current_address[episode.child_id]
        for check in spec.checks:
            self.checks.append(
                AddressCheck(
                    address=address,
                    episode=episode,
                    method=check.method,
                    outcome=check.outcome,
                    checked_at=check.at,
                    checked_by=checker,
                    notes=check.notes,
                )
            )

    # -- fresh notifications --------------------------------------------------------------------

    def _fresh_case(self, family: _Family, case: FreshCase) -> None:
        child = family.children[0]
        school = self.schools[case.urn]
        received_on = _working_days_before(self.today, case.working_days_ago)
        as_of = self._moment(received_on)
        if case.history == "closed_with_concerns":
            self._earlier_case_closed_with_concerns(family, school, case)
        episode = self._notify(family, school, received_on, as_of, case)
        if case.history == "consent_refused":
            decided = self._moment(add_working_days(received_on, 3))
            episode = consent_decide(
                episode_id=episode.pk,
                actor=self.manager,
                expected_version=None,
                granted=False,
                reasons="The EHCP names the special school and its annual review is due; parents and school told",
                as_of=decided,
            )
            return
        officer = None
        for method in case.checks:
            officer = self.officers[1]
            at = self._moment(min(add_working_days(received_on, 2), self.today))
            at = max(at, as_of + timedelta(minutes=30))
            by_school = method == CheckMethod.SCHOOL
            self.checks.append(
                AddressCheck(
                    address=self.current_address[child.pk],
                    episode=episode,
                    method=method,
                    outcome=CheckOutcome.CONFIRMED,
                    school=school if by_school else None,
                    checked_at=at,
                    checked_by=self.school_users[case.urn] if by_school else officer,
                    notes="The school's records match the notification" if by_school else "Spoke to the parent",
                )
            )
            if not by_school:
                episode.first_contact_at = at
        if officer is not None:
            episode.assigned_officer = officer
            self.episode_facts.append(episode)

    def _earlier_case_closed_with_concerns(self, family: _Family, school: School, case: FreshCase) -> None:
        """About 20 months ago the school ticked a concern when the parents asked to withdraw; the
        front door offered early help, the LA refused consent, and the child stayed at school.
        That case closed with concerns, so the new notification goes to the front door first."""
        received_on = _working_days_before(self.today, EARLIER_CASE_WORKING_DAYS_AGO)
        as_of = self._moment(received_on)
        earlier = FreshCase(school.urn, 0, concern=True, special_school_placed_by_la=case.special_school_placed_by_la)
        episode = self._notify(family, school, received_on, as_of, earlier)
        escalation = Escalation.objects.get(episode=episode, rule="concern_ticked", resolved_at__isnull=True)
        escalation_acknowledge(escalation=escalation, actor=self.front_door, as_of=as_of + timedelta(hours=1))
        cspa_decide(
            episode_id=episode.pk,
            actor=self.front_door,
            expected_version=None,
            decision="no_further_action",
            note="Below the threshold for a referral; early help offered and accepted by the family",
            as_of=as_of + timedelta(hours=3),
        )
        refused = self._moment(add_working_days(received_on, 8))
        episode = consent_decide(
            episode_id=episode.pk,
            actor=self.manager,
            expected_version=None,
            granted=False,
            reasons=f"The placement at {school.name} meets the child's needs; parents and school told",
            as_of=refused,
        )

    def _notify(self, family: _Family, school: School, received_on: date, as_of: datetime, case: FreshCase) -> Episode:
        child = family.children[0]
        episode = episode_open(
            child=child,
            source=Source.SCHOOL,
            received_on=received_on,
            as_of=as_of,
            opened_by_school=school,
            concern_at_intake=case.concern,
            special_school_placed_by_la=case.special_school_placed_by_la,
            reason_code=self._reason_code(),
            source_detail=DEMO_SOURCE_DETAIL,
        )
        self._notification(family, school, episode, received_on, as_of, case)
        return episode

    def _notification(
        self, family: _Family, school: School, episode: Episode, received_on: date, as_of: datetime, case: FreshCase
    ) -> None:
        rng = self.rng
        child = family.children[0]
        address = self.current_address[child.pk]
        notice_on = received_on - timedelta(days=rng.randint(0, 3))
        waiting = case.special_school_placed_by_la
        parents = [
            {
                "name": f"{person.first_name} {person.last_name}",
                "relationship": relationship,
                "emergency_phone": person.emergency_phone,
                "lives_with_child": lives_with,
            }
            for person, (relationship, _, lives_with) in zip(family.people, family.links, strict=True)
        ]
        snapshot: dict[str, Any] = {
            "form_version": 1,
            "school": {"urn": school.urn, "name": school.name},
            "child": {
                "legal_first_name": child.legal_first_name,
                "legal_last_name": child.legal_last_name,
                "date_of_birth": child.date_of_birth.isoformat(),
                "upn": child.upn,
                "sex": child.sex,
            },
            "address": {
                "line_1": address.line_1,
                "line_2": address.line_2,
                "town": address.town,
                "postcode": address.postcode,
            },
            "parents": parents,
            "notice_received_on": notice_on.isoformat(),
            "removed_from_roll_on": None if waiting else received_on.isoformat(),
            "ground_9_1_f_confirmed": not waiting,
            "reason_code": episode.reason_code,
            "sen_status": child.sen_status,
            "known_to_social_care": child.social_care_status != SocialCareStatus.NONE,
            "special_school_placed_by_la": case.special_school_placed_by_la,
            "school_attendance_order_in_force": False,
            "removal_status": RemovalStatus.WAITING if waiting else RemovalStatus.REMOVED,
            "safeguarding_concerns": case.concern,
        }
        if case.concern:
            snapshot["safeguarding"] = {
                "nature": rng.choice(CONCERNS),
                "last_raised_on": (received_on - timedelta(days=rng.randint(3, 30))).isoformat(),
                "referred_to_front_door": True,
                "front_door_reference": f"REF-{rng.randint(100000, 999999)}",
                "dsl_name": f"{rng.choice(WOMEN + MEN)} {rng.choice(SURNAMES)}",
                "dsl_phone": f"01632 960{rng.randint(0, 99):03d}",
            }
        self.notifications.append(
            OffRollNotification(
                school=school,
                submitted_by=self.school_users[school.urn],
                submitted_at=as_of,
                snapshot=snapshot,
                residence_la=self.la,
                routing=Routing.THIS_DEPLOYMENT,
                child=child,
                episode=episode,
                legal_first_name=child.legal_first_name,
                legal_last_name=child.legal_last_name,
                date_of_birth=child.date_of_birth,
                upn=child.upn,
                postcode=address.postcode,
                notice_received_on=notice_on,
                removed_from_roll_on=None if waiting else received_on,
                removal_status=RemovalStatus.WAITING if waiting else RemovalStatus.REMOVED,
                reason_code=episode.reason_code,
                safeguarding_concerns=case.concern,
            )
        )

    # -- staff ----------------------------------------------------------------------------------

    def _absences(self) -> None:
        """One officer off sick since the day before yesterday (no return date yet): their cases
        are the ones the absence rule moves. Another on planned leave next week."""
        absent, on_leave = self.officers[2], self.officers[1]
        Absence.objects.bulk_create(
            [
                Absence(
                    officer=absent,
                    starts_on=_working_days_before(self.today, 2),
                    kind=AbsenceKind.UNEXPECTED,
                    recorded_by=self.manager,
                    recorded_at=self.now,
                ),
                Absence(
                    officer=on_leave,
                    starts_on=self.today + timedelta(days=7),
                    ends_on=self.today + timedelta(days=11),
                    kind=AbsenceKind.PLANNED,
                    recorded_by=self.manager,
                    recorded_at=self.now,
                ),
            ]
        )


def _copy_address(template: Address, child: Child) -> Address:
    return Address(
        local_authority=template.local_authority,
        child=child,
        kind=template.kind,
        line_1=template.line_1,
        line_2=template.line_2,
        town=template.town,
        county=template.county,
        postcode=template.postcode,
        valid_from=template.valid_from,
        valid_to=template.valid_to,
    )
