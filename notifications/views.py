"""The signed-in user's in-app notifications: the list (filtered by unread and by kind), opening
one (marks it read, then goes to its case or escalation), and marking them all read."""

from __future__ import annotations

from django.contrib import messages as flash
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from ehe_register.accounts.guards import role_required
from ehe_register.forms.fields import ascii_int
from ehe_register.roles import LA_ROLES, Role
from notifications.delivery import message_subject
from notifications.services import (
    in_app_kinds_for,
    in_app_mark_one_read,
    in_app_mark_read,
    in_app_messages_for,
    message_link_path,
)

EVERYONE_WITH_A_ROLE_HERE = (*sorted(LA_ROLES), Role.SCHOOL_USER)


@role_required(*EVERYONE_WITH_A_ROLE_HERE)
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    kinds = in_app_kinds_for(user=request.user)
    kind = request.GET.get("kind", "")
    if kind not in dict(kinds):
        kind = ""
    unread = request.GET.get("unread") == "1"
    found = in_app_messages_for(user=request.user, unread=unread, kind=kind)
    page = Paginator(found, 25).get_page(ascii_int(request.GET.get("page")))
    items = [{"message": m, "headline": message_subject(m), "link": message_link_path(m)} for m in page.object_list]
    context = {"page": page, "items": items, "kinds": kinds, "kind": kind, "unread": unread}
    return render(request, "notifications/list.html", context)


@role_required(*EVERYONE_WITH_A_ROLE_HERE)
@require_POST
def notification_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one of the user's notifications read and go to what it is about (its page checks
    the user may see it). Someone else's notification is a 404."""
    message = in_app_mark_one_read(user=request.user, message_id=pk)
    if message is None:
        raise Http404("No such notification")
    return redirect(message_link_path(message))


@role_required(*EVERYONE_WITH_A_ROLE_HERE)
@require_POST
def notifications_mark_read(request: HttpRequest) -> HttpResponse:
    count = in_app_mark_read(user=request.user)
    flash.success(request, f"{count} notification{'s' if count != 1 else ''} marked as read")
    return redirect("notifications:list")
