"""Subject access exports (``/exports/subject-access/``): an EHE manager downloads every record
held about one child or one parent or carer of their LA, from the case page. The page before the
download shows the person's name, so it is logged; the download is logged by the export itself
(``imports.subject_access``)."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from ehe_register.accounts.guards import role_required
from ehe_register.models import AccessAction, ChildPerson, Person
from ehe_register.roles import Role
from ehe_register.selectors import child_for
from ehe_register.services.access import access_log_record_export
from imports.subject_access import subject_access_export, subjects_for_child, subjects_for_person
from workflows.personal_data import Subjects, places
from workflows.selectors import episodes_for


def _zip_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _page(request: HttpRequest, subjects: Subjects, context: dict[str, Any]) -> HttpResponse:
    user: Any = request.user
    if request.method == "POST":
        result = subject_access_export(
            user=user, subjects=subjects, title=context["title"], stem=context["stem"], path=request.path
        )
        return _zip_response(result.content, result.filename)
    access_log_record_export(
        user=user,
        local_authority_id=subjects.local_authority_id,
        child_ids=subjects.child_ids,
        action=AccessAction.VIEW,
        path=request.path,
    )
    context["places"] = [place.title for place in places()]
    return render(request, "exports/subject_access.html", context)


@role_required(Role.EHE_MANAGER)
@require_http_methods(["GET", "POST"])
def child_export(request: HttpRequest, pk: int) -> HttpResponse:
    user: Any = request.user
    child = child_for(user, pk)
    subjects = subjects_for_child(child)
    latest = episodes_for(user).filter(child=child).order_by("-opened_at").first()
    carers = list(ChildPerson.objects.filter(child=child).select_related("person").order_by("pk"))
    context = {
        "title": f"{child.legal_name} (child record {child.pk})",
        "stem": f"subject-access-child-{child.pk}",
        "kind": "child",
        "name": child.full_name,
        "child": child,
        "carers": carers,
        "case": latest,
    }
    return _page(request, subjects, context)


@role_required(Role.EHE_MANAGER)
@require_http_methods(["GET", "POST"])
def person_export(request: HttpRequest, pk: int) -> HttpResponse:
    user: Any = request.user
    person = Person.objects.filter(pk=pk, local_authority_id=user.local_authority_id).first()
    if person is None:
        raise Http404
    subjects = subjects_for_person(person)
    links = list(ChildPerson.objects.filter(person=person).select_related("child").order_by("pk"))
    latest = episodes_for(user).filter(child__in=[link.child_id for link in links]).order_by("-opened_at").first()
    context = {
        "title": f"{person} (parent or carer, person record {person.pk})",
        "stem": f"subject-access-person-{person.pk}",
        "kind": "person",
        "name": str(person),
        "person": person,
        "links": links,
        "case": latest,
    }
    return _page(request, subjects, context)
