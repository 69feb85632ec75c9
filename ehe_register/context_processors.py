"""What every page needs: the council's name, the service name, the navigation for the user's roles."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from ehe_register.navigation import navigation_for


def service(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    council_name = ""
    if user is not None and user.is_authenticated:
        la = user.local_authority
        if la is None:
            school = user.schools.select_related("local_authority").first()
            la = school.local_authority if school else None
        council_name = la.header_name if la else ""
    return {
        "council_name": council_name or settings.EHE_SERVICE_NAME,
        "service_name": settings.EHE_SERVICE_NAME,
        "phase": settings.EHE_PHASE,
        "require_2fa": settings.EHE_REQUIRE_2FA,
        "navigation": navigation_for(request),
    }
