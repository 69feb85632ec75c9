"""Administrators manage a person's two-factor sign-in: see its state, give an enrolment link,
reset a lost authenticator. Reached from the person's page in the Django admin.

A link's token is shown once, in the response to the request that made it, and never again:
only its hash is kept.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from ehe_register.accounts import two_factor as tf
from ehe_register.accounts.guards import role_required
from ehe_register.models import AccountEvent, User
from ehe_register.roles import Role


def _link_page(request: HttpRequest, person: User, token: str, *, reset: bool) -> HttpResponse:
    link = tf.enrolment_link_check(user=person, token=token)
    context = {
        "person": person,
        "url": request.build_absolute_uri(reverse("accounts:enrol", kwargs={"token": token})),
        "expires_at": link.expires_at,
        "reset": reset,
    }
    return render(request, "accounts/staff_enrolment_link.html", context)


@role_required(Role.ADMINISTRATOR)
def staff_two_factor(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(User, pk=pk)
    context = {
        "person": person,
        "status": tf.two_factor_status(person),
        "events": AccountEvent.objects.filter(user=person).select_related("actor")[:20],
    }
    return render(request, "accounts/staff_two_factor.html", context)


@role_required(Role.ADMINISTRATOR)
@require_POST
def staff_enrolment_link(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(User, pk=pk)
    if tf.has_confirmed_device(person):
        # The page offers only a reset for someone with an authenticator; a stale form lands here.
        return redirect("accounts:staff_two_factor", pk=person.pk)
    token = tf.enrolment_link_issue(user=person, issued_by=request.user)  # type: ignore[arg-type]
    return _link_page(request, person, token, reset=False)


@role_required(Role.ADMINISTRATOR)
def staff_two_factor_reset(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(User, pk=pk)
    if request.method == "POST":
        token = tf.two_factor_reset(user=person, actor=request.user)  # type: ignore[arg-type]
        return _link_page(request, person, token, reset=True)
    return render(
        request, "accounts/staff_two_factor_reset.html", {"person": person, "status": tf.two_factor_status(person)}
    )
