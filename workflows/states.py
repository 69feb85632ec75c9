"""The Episode states, declared once. Everything else reads them from here or from the machine."""

from __future__ import annotations

from django.db import models


class State(models.TextChoices):
    NOTIFIED = "notified", "Notified"
    SAFEGUARDING_REVIEW = "safeguarding_review", "Safeguarding review"
    AWAITING_CONSENT = "awaiting_consent", "Awaiting consent decision"
    ADDRESS_VERIFICATION = "address_verification", "Address verification"
    EDUCATION_ENQUIRY = "education_enquiry", "Education enquiry"
    MONITORING = "monitoring", "Monitoring"
    REVIEW_DUE = "review_due", "Review due"
    MISSING_EDUCATION = "missing_education", "Missing education"
    S437_NOTICE = "s437_notice", "Section 437 notice served"
    ATTENDANCE_ORDER = "attendance_order", "School attendance order"
    CLOSED = "closed", "Closed"


ACTIVE_STATES: tuple[str, ...] = tuple(s for s in State.values if s != State.CLOSED)

# Stale contacts do not move a case in these states: a decision or a statutory clock is pending.
STALE_CONTACTS_HOLD_STATES = frozenset(
    {
        State.AWAITING_CONSENT,
        State.SAFEGUARDING_REVIEW,
        State.MISSING_EDUCATION,
        State.S437_NOTICE,
        State.ATTENDANCE_ORDER,
    }
)


class Source(models.TextChoices):
    SCHOOL = "school", "School notification"
    PARENT = "parent", "Parent's own notice"
    OTHER_AGENCY = "other_agency", "Another agency"
    OFFICER = "officer", "Officer's own knowledge"
    IMPORT = "import", "Import of existing records"
    TRANSFER = "transfer", "Transfer from another local authority"


class ClosureReason(models.TextChoices):
    RETURNED_TO_SCHOOL = "returned_to_school", "Returned to school"
    CONSENT_REFUSED = "consent_refused", "Consent refused"
    MOVED_OUT = "moved_out", "Moved out of the local authority (receiving LA told)"
    OVER_SCHOOL_AGE = "over_school_age", "Over compulsory school age"
    DIED = "died", "Died"
    DUPLICATE = "duplicate", "Duplicate record (merged)"
    OTHER = "other", "Other"


class Priority(models.IntegerChoices):
    NORMAL = 0, "Normal"
    HIGH = 1, "High"
    URGENT = 2, "Urgent"
