from ehe_register.models.accounts import User
from ehe_register.models.authorities import AbsenceCover, LocalAuthority
from ehe_register.models.children import (
    SCHOOL_YEAR_GROUPS,
    Address,
    AddressCheck,
    AddressKind,
    CheckMethod,
    CheckOutcome,
    Child,
    ChildPerson,
    Person,
    Relationship,
    SenStatus,
    Sex,
    SocialCareStatus,
    school_year_group_number,
)
from ehe_register.models.logs import Absence, AbsenceKind, AccessAction, AccessLog
from ehe_register.models.lookups import AnyOf
from ehe_register.models.matching import MatchStatus, PossibleMatch, ReferenceSequence
from ehe_register.models.merges import ChildMerge
from ehe_register.models.offroll import OffRollNotification, RemovalStatus, Routing
from ehe_register.models.reference import ReasonCode
from ehe_register.models.requests import SchoolContactRequest
from ehe_register.models.retention import Anonymisation, LegalHold, RetentionRun, RetentionTrigger
from ehe_register.models.schools import School
from ehe_register.models.two_factor import AccountEvent, AccountEventKind, EnrolmentLink

__all__ = [
    "SCHOOL_YEAR_GROUPS",
    "Absence",
    "AbsenceCover",
    "AbsenceKind",
    "AccessAction",
    "AccessLog",
    "AccountEvent",
    "AccountEventKind",
    "Address",
    "AddressCheck",
    "AddressKind",
    "Anonymisation",
    "AnyOf",
    "CheckMethod",
    "CheckOutcome",
    "Child",
    "ChildMerge",
    "ChildPerson",
    "EnrolmentLink",
    "LegalHold",
    "LocalAuthority",
    "MatchStatus",
    "OffRollNotification",
    "Person",
    "PossibleMatch",
    "ReasonCode",
    "ReferenceSequence",
    "Relationship",
    "RemovalStatus",
    "RetentionRun",
    "RetentionTrigger",
    "Routing",
    "School",
    "SchoolContactRequest",
    "SenStatus",
    "Sex",
    "SocialCareStatus",
    "User",
    "school_year_group_number",
]
