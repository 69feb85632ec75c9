"""The school portal's requests to confirm contact details (DESIGN section 6).

The LA asks a child's last school what address and contacts it holds; the school answers with
what it holds. A school user sees only its own schools' requests (another school's is a 404), and
of each request only the child's name and date of birth and which LA asks: never the LA's address
or anything else from the case, not even whether the answer matched.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from ehe_register.accounts.guards import role_required
from ehe_register.forms.fields import ascii_int
from ehe_register.models import SchoolContactRequest
from ehe_register.roles import Role
from workflows.forms_actions import SchoolAnswerForm
from workflows.services.school_requests import SchoolAnswer, school_contact_request_answer

REQUESTS_PER_PAGE = 25


def requests_to_schools_of(user: Any) -> QuerySet[SchoolContactRequest]:
    """The requests sent to the user's own schools, waiting ones first, then newest first."""
    return (
        SchoolContactRequest.objects.filter(school__in=user.schools.values("pk"))
        .select_related("school", "episode__child", "episode__local_authority", "answered_by")
        .order_by("-answered_at", "-requested_at", "-pk")
    )


def request_status(contact_request: SchoolContactRequest) -> str:
    """The status a school sees: nothing of the comparison with the LA's records."""
    if contact_request.is_answered:
        return "Answered"
    if not contact_request.episode.is_active:
        return "No longer needed"
    return "Waiting for your answer"


@role_required(Role.SCHOOL_USER)
@require_GET
def request_list(request: HttpRequest) -> HttpResponse:
    # Waiting requests (no answer yet) sort first: PostgreSQL puts NULLs first in descending order.
    requests = Paginator(requests_to_schools_of(request.user), REQUESTS_PER_PAGE)
    page = requests.get_page(ascii_int(request.GET.get("page")))
    rows = [{"request": r, "status": request_status(r)} for r in page.object_list]
    several_schools = request.user.schools.count() > 1  # type: ignore[union-attr]
    return render(request, "schools/requests.html", {"page": page, "rows": rows, "several_schools": several_schools})


@role_required(Role.SCHOOL_USER)
@require_http_methods(["GET", "POST"])
def request_answer(request: HttpRequest, pk: int) -> HttpResponse:
    """The school states what address and parent's phone number it holds for the pupil."""
    contact_request = get_object_or_404(requests_to_schools_of(request.user), pk=pk)
    status = request_status(contact_request)
    answerable = status == "Waiting for your answer"
    form = SchoolAnswerForm(request.POST or None)
    if request.method == "POST" and answerable and form.is_valid():
        data = form.cleaned_data
        try:
            school_contact_request_answer(
                request_id=contact_request.pk,
                actor=request.user,  # type: ignore[arg-type]
                answer=SchoolAnswer(
                    line_1=data["line_1"].strip(),
                    line_2=data["line_2"].strip(),
                    town=data["town"].strip(),
                    postcode=data["postcode"],
                    phone=data["phone"],
                ),
            )
        except (ValidationError, PermissionDenied) as refused:
            for message in getattr(refused, "messages", None) or [str(refused) or "You cannot answer this request"]:
                form.add_error(None, message)
        else:
            messages.success(request, "Thank you. Your answer has been sent to the local authority.")
            return redirect("schools:request_list")
    child = contact_request.episode.child
    context = {
        "contact_request": contact_request,
        "child_name": f"{child.legal_first_name} {child.legal_last_name}",
        "date_of_birth": child.date_of_birth,
        "la_name": contact_request.episode.local_authority.header_name,
        "status": status,
        "answerable": answerable,
        "form": form,
    }
    return render(request, "schools/requests_answer.html", context)
