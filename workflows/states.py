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


# A case whose state and dates disagree (the integrity check's ``state_dates_disagree``), each
# condition by name with what it means. One definition for the check and for the partial index
# that finds such cases (``episode_state_dates_disagree``, empty while all is well), so that the
# check reads that index rather than every case of the LA.
STATE_DATE_RULES: dict[str, tuple[models.Q, str]] = {
    "review_missing": (
        models.Q(state__in=[State.MONITORING, State.REVIEW_DUE], review_due_on__isnull=True),
        "In monitoring or review with no review date",
    ),
    "s437_missing": (
        models.Q(state__in=[State.S437_NOTICE, State.ATTENDANCE_ORDER], s437_served_on__isnull=True),
        "A section 437 notice with no date served",
    ),
    "order_missing": (
        models.Q(state=State.ATTENDANCE_ORDER, attendance_order_served_on__isnull=True),
        "A school attendance order with no date served",
    ),
    "closed_no_time": (models.Q(state=State.CLOSED, closed_at__isnull=True), "Closed with no closing time"),
    "closed_no_reason": (models.Q(state=State.CLOSED, closure_reason=""), "Closed with no reason"),
    "open_with_closed_at": (
        models.Q(state__in=ACTIVE_STATES, closed_at__isnull=False),
        "Open but has a closing time",
    ),
}
