"""The signed-in user's in-app notifications: the list, and marking them read."""

from __future__ import annotations

from django.contrib import messages as flash
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from ehe_register.accounts.guards import role_required
from ehe_register.forms.fields import ascii_int
from ehe_register.roles import LA_ROLES, Role
from notifications.delivery import message_subject
from notifications.services import in_app_mark_read, in_app_messages_for

EVERYONE_WITH_A_ROLE_HERE = (*sorted(LA_ROLES), Role.SCHOOL_USER)


@role_required(*EVERYONE_WITH_A_ROLE_HERE)
def notification_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(in_app_messages_for(user=request.user), 25).get_page(ascii_int(request.GET.get("page")))
    items = [{"message": m, "headline": message_subject(m)} for m in page.object_list]
    return render(request, "notifications/list.html", {"page": page, "items": items})


@role_required(*EVERYONE_WITH_A_ROLE_HERE)
@require_POST
def notifications_mark_read(request: HttpRequest) -> HttpResponse:
    count = in_app_mark_read(user=request.user)
    flash.success(request, f"{count} notification{'s' if count != 1 else ''} marked as read")
    return redirect("notifications:list")
