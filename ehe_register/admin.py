"""Django admin for administrators: reference data and accounts only.

Nothing about a child, a family or a case is registered here (``ADMIN_MODELS`` in
``tests/ehe_register/test_admin.py`` lists what is): the admin writes no AccessLog row and
checks no local authority, so children's records are seen only in the service itself, where
every view is scoped and logged. That includes the append-only logs (who viewed which child,
case transitions) and off-roll notifications.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from ehe_register.models import AccountEvent, LocalAuthority, ReasonCode, School, User

# django-otp's own device admins would let an administrator add an authenticator for someone
# (no enrolment link, nothing logged) or read its secret key and copy it. Devices are managed
# only through the two-factor pages (``accounts:staff_two_factor``), which log every change.
admin.site.unregister(TOTPDevice)
admin.site.unregister(StaticDevice)


@admin.register(LocalAuthority)
class LocalAuthorityAdmin(admin.ModelAdmin):
    list_display = ["name", "dfe_code", "ons_code", "uses_service", "council_name"]
    list_filter = [
        "uses_service",
        "consent_duty_commenced",
        "home_check_duty_commenced",
        "school_users_need_two_factor",
    ]
    search_fields = ["name", "dfe_code", "ons_code"]
    readonly_fields = ["dfe_code", "ons_code", "name"]
    fieldsets = [
        (None, {"fields": ["name", "dfe_code", "ons_code", "uses_service", "council_name"]}),
        (
            "Front door",
            {
                "fields": [
                    "front_door_name",
                    "front_door_short_name",
                    "front_door_email",
                    "front_door_phone",
                    "front_door_out_of_hours_phone",
                    "office_opens",
                    "office_closes",
                    "same_day_cutoff",
                ]
            },
        ),
        ("Teams", {"fields": ["sen_team_email", "ehe_team_email", "ehe_team_phone"]}),
        (
            "Thresholds",
            {
                "fields": [
                    "contacts_unverified_working_days",
                    "contacts_stale_months",
                    "first_contact_days",
                    "review_warning_working_days",
                    "review_interval_months",
                    "absence_cover",
                ]
            },
        ),
        (
            "Duties and retention",
            {
                "fields": [
                    "consent_duty_commenced",
                    "home_check_duty_commenced",
                    "retention_until_birthday",
                    "school_age_population",
                ]
            },
        ),
        ("Quality audit", {"fields": ["audit_sample_size"]}),
        ("Sign-in", {"fields": ["school_users_need_two_factor"]}),
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # LAs come from the DfE list (manage.py load_reference_data)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ReasonCode)
class ReasonCodeAdmin(admin.ModelAdmin):
    """The DfE's reasons for home education: add the DfE's new codes here, retire old ones with
    ``active`` (never delete: notifications and cases keep the code they were given)."""

    list_display = ["label", "code", "dfe_category", "order", "active"]
    list_editable = ["order", "active"]
    list_filter = ["active"]
    search_fields = ["code", "label"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # A stored code never changes, or records that carry it would lose their reason.
        return ["code"] if obj is not None else []

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(School)
class SchoolAdmin(admin.ModelAdmin):
    list_display = ["name", "urn", "local_authority", "phase", "is_special", "closed_on"]
    list_filter = ["is_special", "phase"]
    search_fields = ["name", "urn", "postcode"]
    autocomplete_fields = ["local_authority"]


@admin.register(User)
class EheUserAdmin(UserAdmin):
    list_display = ["username", "first_name", "last_name", "local_authority", "is_active"]
    list_filter = ["groups", "local_authority", "is_active"]
    fieldsets = [
        *UserAdmin.fieldsets,  # type: ignore[misc]
        ("Where they work", {"fields": ["local_authority", "schools", "phone"]}),
        ("Two-factor sign-in", {"fields": ["two_factor"]}),
    ]
    readonly_fields = ["two_factor"]
    filter_horizontal = ["groups", "user_permissions", "schools"]
    autocomplete_fields = ["local_authority"]

    @admin.display(description="Authenticator app, backup codes and enrolment links")
    def two_factor(self, obj: User) -> str:
        if obj.pk is None:
            return "Save the account first."
        url = reverse("accounts:staff_two_factor", kwargs={"pk": obj.pk})
        return format_html('<a href="{}">Manage two-factor sign-in</a>', url)


@admin.register(AccountEvent)
class AccountEventAdmin(admin.ModelAdmin):
    """Changes to how people sign in (append-only: read here, written only by the services)."""

    list_display = ["at", "user", "kind", "actor", "detail"]
    list_filter = ["kind"]
    search_fields = ["user__username", "actor__username"]
    date_hierarchy = "at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
