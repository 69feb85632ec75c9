"""The school portal: the EHE notification form, check your answers, confirmation, and the
school's own list of what it has sent (DESIGN section 6).

The answers in progress live in the session as the raw POSTed data (a dict of lists of strings),
so that "Change" links on the check page bring back exactly what was typed, and the final POST
binds the same data again before calling the intake service; that raw data becomes the
notification's immutable snapshot. School users only ever see what their own schools sent and a
plain status: never the LA's case notes, addresses or states beyond those statuses.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.datastructures import MultiValueDict
from django.utils.formats import date_format
from django.views.decorators.http import require_GET, require_http_methods

from ehe_register.accounts.guards import role_required
from ehe_register.forms.fields import ascii_int
from ehe_register.forms.portal import NotificationForm
from ehe_register.models import LocalAuthority, OffRollNotification, RemovalStatus, Routing, School
from ehe_register.roles import Role
from ehe_register.selectors import notifications_for
from workflows.models import TransitionLog
from workflows.services.submission import SubmissionRateLimited, notification_submit
from workflows.states import ClosureReason, State

#: Where the answers in progress are kept between the form and "Check your answers".
DRAFT_SESSION_KEY = "schools:notification_draft"
NOTIFICATIONS_PER_PAGE = 25


# ----------------------------------------------------------------------------------------------
# Reads


def schools_of(user: Any) -> QuerySet[School]:
    """The schools a school user acts for, by name."""
    return user.schools.select_related("local_authority").order_by("name")


def notifications_from_schools_of(user: Any) -> QuerySet[OffRollNotification]:
    """What the user's own schools sent, newest first, with what the status needs.

    Scoped twice on purpose: ``notifications_for`` is the house selector, and the extra filter on
    the user's schools keeps a user who also holds an LA role from seeing the LA's notifications
    in the school portal.
    """
    consent_granted = TransitionLog.objects.filter(episode=OuterRef("episode"), transition="consent_granted")
    return (
        notifications_for(user)
        .filter(school__in=user.schools.values("pk"))
        .select_related("school", "residence_la", "episode", "submitted_by")
        .annotate(consent_granted=Exists(consent_granted))
        .order_by("-submitted_at", "-pk")
    )


def school_status(notification: OffRollNotification) -> str:
    """The plain status a school sees, from the linked episode (DESIGN section 6)."""
    if notification.routing == Routing.FORWARDED:
        return f"Sent to {notification.residence_la.name}: contact them"
    episode = notification.episode
    if episode is None or episode.state == State.NOTIFIED:
        return "Received"
    if episode.state == State.AWAITING_CONSENT:
        return "Awaiting the local authority's consent decision"
    if episode.state == State.CLOSED:
        return "Consent refused" if episode.closure_reason == ClosureReason.CONSENT_REFUSED else "Closed"
    if getattr(notification, "consent_granted", False):
        return "Consent granted"
    return "With the home education team"


def consent_decision_pending(notification: OffRollNotification) -> bool:
    """Whether the LA still has to decide on consent (now, or after the front door's review)."""
    episode = notification.episode
    if episode is None:
        return False
    return State.AWAITING_CONSENT in (episode.state, episode.resume_state)


# ----------------------------------------------------------------------------------------------
# The answers in progress


def answers_from(post: Mapping[str, Any], keys: Iterable[str]) -> dict[str, list[str]]:
    """The POSTed answers the form reads, as a dict of lists of strings (CSRF token and any
    unknown keys left out)."""
    return {key: [str(value) for value in post.getlist(key)] for key in sorted(keys) if key in post}  # type: ignore[attr-defined]


def storable(answers: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """The answers as PostgreSQL can store them in the session and the snapshot.

    PostgreSQL text and jsonb cannot hold U+0000. A valid form has none in any answer it uses
    (Django refuses them), so this only touches answers to questions that did not apply.
    """
    return {key: [value.replace("\x00", "\ufffd") for value in values] for key, values in answers.items()}


def as_form_data(answers: Mapping[str, Any] | None) -> MultiValueDict[str, str]:
    """Stored answers (from the session or a snapshot) as data a form can be bound to."""
    data: MultiValueDict[str, str] = MultiValueDict()
    for key, values in (answers or {}).items():
        data.setlist(str(key), [str(v) for v in values] if isinstance(values, list) else [str(values)])
    return data


# ----------------------------------------------------------------------------------------------
# Answers as "Check your answers" and the detail page show them


@dataclass(frozen=True)
class Answer:
    key: str
    lines: list[str]
    anchor: str  # the id of the control the "Change" link goes to

    @property
    def hidden_key(self) -> str:
        """The key as the visually hidden end of "Change ...": "Change date of birth"."""
        if len(self.key) > 1 and self.key[1].isupper():
            return self.key
        return self.key[:1].lower() + self.key[1:]


@dataclass(frozen=True)
class AnswerSection:
    title: str
    answers: list[Answer]


NOT_GIVEN = "Not given"


def _anchor(form: forms.Form, name: str) -> str:
    widget = form.fields[name].widget
    if isinstance(widget, forms.MultiWidget):
        return f"id_{name}_day"
    if isinstance(widget, forms.RadioSelect):
        return f"id_{name}_0"
    return f"id_{name}"


def _display(form: forms.Form, name: str) -> list[str]:
    """One answer as lines of text: the cleaned value where it is valid, else what was typed."""
    field = form.fields[name]
    cleaned = getattr(form, "cleaned_data", {})
    if name in cleaned:
        value = cleaned[name]
    else:
        raw = form[name].value()
        value = " / ".join(str(part or "") for part in raw) if isinstance(raw, list | tuple) else raw
    if value is None or value == "" or value == []:
        return [NOT_GIVEN]
    if isinstance(value, bool):
        return ["Yes" if value else "No"]
    if isinstance(value, datetime.date):
        return [date_format(value, "j F Y")]
    if isinstance(field, forms.ModelChoiceField) and not isinstance(value, str):
        return [field.label_from_instance(value)]
    if isinstance(field, forms.ChoiceField) and not isinstance(field, forms.TypedChoiceField):
        labels = {str(key): str(label) for key, label in field.choices}  # type: ignore[misc,union-attr]
        return [labels.get(str(value), str(value))]
    return str(value).splitlines() or [NOT_GIVEN]


def _answer(form: forms.Form, key: str, name: str) -> Answer:
    return Answer(key=key, lines=_display(form, name), anchor=_anchor(form, name))


def _joined(form: forms.Form, key: str, names: list[str], separator: str | None = None) -> Answer:
    parts = [line for name in names for line in _display(form, name) if line != NOT_GIVEN]
    lines = [separator.join(parts)] if separator is not None and parts else parts
    return Answer(key=key, lines=lines or [NOT_GIVEN], anchor=_anchor(form, names[0]))


def _parent_address(form: NotificationForm, number: int) -> list[Answer]:
    """Whether the parent lives at the child's home address and, when not, their own address."""
    p = f"parent_{number}_"
    answers = [_answer(form, "Lives at the child's home address", f"{p}same_address")]
    if getattr(form, "cleaned_data", {}).get(f"{p}same_address") is not True:
        names = [f"{p}{name}" for name in NotificationForm.PARENT_ADDRESS]
        answers.append(_joined(form, "Their address", names))
    return answers


def answer_sections(form: NotificationForm) -> list[AnswerSection]:
    """What the form says, section by section, in the order the form asks it."""
    a = _answer
    about = [
        a(form, "School", "school") if form.asks_for_school else None,
        _joined(form, "Legal name", ["legal_first_name", "legal_middle_names", "legal_last_name"], " "),
        a(form, "Preferred first name", "preferred_first_name"),
        a(form, "Date of birth", "date_of_birth"),
        a(form, "Sex", "sex"),
        a(form, "UPN", "upn"),
        a(form, "Year group", "year_group"),
    ]
    sections = [
        AnswerSection("About the child", [answer for answer in about if answer is not None]),
        AnswerSection(
            "Home address and local authority",
            [
                _joined(form, "Home address", ["address_line_1", "address_line_2", "address_town", "postcode"]),
                a(form, "Local authority the child lives in", "residence_la"),
            ],
        ),
    ]
    for number in (1, 2):
        if number == 2 and not form.parent_2_entered:
            continue
        p = f"parent_{number}_"
        sections.append(
            AnswerSection(
                f"Parent or carer {number}",
                [
                    _joined(form, "Name", [f"{p}first_name", f"{p}last_name"], " "),
                    a(form, "Relationship to the child", f"{p}relationship"),
                    a(form, "Parental responsibility", f"{p}parental_responsibility"),
                    a(form, "Child normally lives with them", f"{p}lives_with_child"),
                    *_parent_address(form, number),
                    a(form, "Emergency phone number", f"{p}emergency_phone"),
                    a(form, "Email address", f"{p}email"),
                ],
            )
        )
    cleaned = getattr(form, "cleaned_data", {})
    leaving = [
        a(form, "Date the written notice was received", "notice_received_on"),
        a(form, "Removed from the admission register", "removal_status"),
    ]
    if cleaned.get("removal_status") != RemovalStatus.WAITING:
        leaving.append(a(form, "Date removed from roll", "removed_from_roll_on"))
    leaving += [
        a(form, "Ground in regulation 9(1)(f) confirmed", "ground_confirmed"),
        a(form, "Reason the parent gave", "reason_code"),
        a(form, "More about the reason", "reason_detail"),
    ]
    sections += [
        AnswerSection("Leaving school", leaving),
        AnswerSection(
            "Needs and social care",
            [
                a(form, "Special educational needs", "sen_status"),
                a(form, "Known to children's social care", "social_care_status"),
                a(form, "Allocated social worker's email", "social_worker_email"),
                a(form, "Special school place arranged by the local authority", "special_school_placed_by_la"),
                a(form, "School attendance order in force", "attendance_order_in_force"),
            ],
        ),
    ]
    safeguarding = [a(form, "Safeguarding concerns", "safeguarding_concerns")]
    if cleaned.get("safeguarding_concerns") is not False:
        safeguarding += [
            a(form, "Nature of the concern", "concern_nature"),
            a(form, "Concern last raised", "concern_last_raised_on"),
            a(form, "Referred to the front door or social care", "referred_to_front_door"),
        ]
        if cleaned.get("referred_to_front_door") is not False:
            safeguarding += [
                a(form, "Date referred", "referred_on"),
                a(form, "Referral reference", "referral_reference"),
            ]
        safeguarding += [
            a(form, "Designated safeguarding lead", "dsl_name"),
            a(form, "Designated safeguarding lead's phone", "dsl_phone"),
        ]
    sections.append(AnswerSection("Safeguarding", safeguarding))
    return sections


def _clock(value: datetime.time) -> str:
    """9:00 as "9am", 16:30 as "4:30pm" (GOV.UK style)."""
    hour = value.hour % 12 or 12
    minutes = f":{value.minute:02d}" if value.minute else ""
    return f"{hour}{minutes}{'am' if value.hour < 12 else 'pm'}"


def front_door_context(la: LocalAuthority | None) -> dict[str, Any]:
    """The school's LA's front door, for the "this is not a safeguarding referral" warning."""
    if la is None:
        return {"front_door": None}
    return {"front_door": la, "front_door_hours": f"{_clock(la.office_opens)} to {_clock(la.office_closes)}"}


# ----------------------------------------------------------------------------------------------
# Views


@role_required(Role.SCHOOL_USER)
@require_http_methods(["GET", "POST"])
def notification_start(request: HttpRequest) -> HttpResponse:
    """The notification form. A valid POST keeps the answers and goes on to check them."""
    schools = schools_of(request.user)
    draft = request.session.get(DRAFT_SESSION_KEY)
    if request.method == "POST" and "start_again" in request.POST:
        request.session.pop(DRAFT_SESSION_KEY, None)
        return redirect("schools:notify")
    if request.method == "POST":
        answers = answers_from(request.POST, NotificationForm(schools=schools).data_keys())
        form = NotificationForm(as_form_data(answers), schools=schools)
        if form.is_valid():
            request.session[DRAFT_SESSION_KEY] = storable(answers)
            return redirect("schools:check_answers")
    elif draft:
        # Back from a "Change" link: the answers as they were typed.
        form = NotificationForm(as_form_data(draft), schools=schools)
    else:
        form = NotificationForm(schools=schools)
    context = {"form": form, "has_draft": bool(draft), **front_door_context(form.school_la)}
    return render(request, "schools/form.html", context)


@role_required(Role.SCHOOL_USER)
@require_http_methods(["GET", "POST"])
def check_answers(request: HttpRequest) -> HttpResponse:
    """Check your answers; the POST from here sends the notification."""
    draft = request.session.get(DRAFT_SESSION_KEY)
    if not draft:
        return redirect("schools:notify")
    form = NotificationForm(as_form_data(draft), schools=schools_of(request.user))
    if not form.is_valid():
        # Something changed since the form was sent (a school taken away, a date now in the
        # future after a clock change): the form shows what to fix.
        return redirect("schools:notify")
    if request.method == "POST":
        try:
            notification = notification_submit(
                data=form.to_input(submitted_by=request.user, snapshot=draft),  # type: ignore[arg-type]
                as_of=timezone.now(),
            )
        except SubmissionRateLimited as limited:
            context = {"form": form, "sections": answer_sections(form), "rate_limit_message": str(limited)}
            return render(request, "schools/check_answers.html", context, status=429)
        request.session.pop(DRAFT_SESSION_KEY, None)
        return redirect("schools:confirmation", reference=notification.reference)
    return render(request, "schools/check_answers.html", {"form": form, "sections": answer_sections(form)})


@role_required(Role.SCHOOL_USER)
@require_GET
def confirmation(request: HttpRequest, reference: str) -> HttpResponse:
    notification = get_object_or_404(notifications_from_schools_of(request.user), reference=reference)
    context = {
        "notification": notification,
        "forwarded": notification.routing == Routing.FORWARDED,
        "consent_pending": consent_decision_pending(notification),
        **front_door_context(notification.school.local_authority),
    }
    return render(request, "schools/confirmation.html", context)


@role_required(Role.SCHOOL_USER)
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    notifications = Paginator(notifications_from_schools_of(request.user), NOTIFICATIONS_PER_PAGE)
    page = notifications.get_page(ascii_int(request.GET.get("page")))
    rows = [{"notification": n, "status": school_status(n)} for n in page.object_list]
    several_schools = request.user.schools.count() > 1  # type: ignore[union-attr]
    return render(request, "schools/list.html", {"page": page, "rows": rows, "several_schools": several_schools})


@role_required(Role.SCHOOL_USER)
@require_GET
def notification_detail(request: HttpRequest, reference: str) -> HttpResponse:
    """What the school sent, from the snapshot, and its status. Another school's is a 404."""
    notification = get_object_or_404(notifications_from_schools_of(request.user), reference=reference)
    snapshot = notification.snapshot if isinstance(notification.snapshot, dict) else {}
    form = NotificationForm(
        as_form_data(snapshot),
        schools=schools_of(request.user).filter(pk=notification.school_id),
        today=timezone.localdate(notification.submitted_at),
    )
    form.is_valid()
    context = {
        "notification": notification,
        "status": school_status(notification),
        "sections": answer_sections(form),
    }
    return render(request, "schools/detail.html", context)
