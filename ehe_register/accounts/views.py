"""Sign in, sign out, two-factor sign-in, enrolment by one-time link, and backup codes.

The rules are in :mod:`ehe_register.accounts.two_factor`; these views only ask and show.
Every page here is under ``/accounts/``, which the two-factor middleware lets a half-signed-in
user reach; each view checks for itself what it needs (a password sign-in, a live link in the
session, or a verified second factor).
"""

from __future__ import annotations

import base64
from typing import Any

from django import forms
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django.views.generic import TemplateView
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from ehe_register.accounts import two_factor as tf
from ehe_register.accounts.guards import public
from ehe_register.accounts.qr import qr_svg


class OtpTokenForm(forms.Form):
    otp_token = forms.CharField(
        label="Code",
        help_text="The 6-digit code shown in your authenticator app",
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "spellcheck": "false"}),
        error_messages={
            "required": "Enter the code from your authenticator app",
            "max_length": "Enter the 6-digit code from your authenticator app",
        },
    )


class SignInCodeForm(forms.Form):
    """The second step of signing in: a code from the app, or one backup code."""

    otp_token = forms.CharField(
        label="Code",
        help_text="The 6-digit code shown in your authenticator app, or one of your backup codes",
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "spellcheck": "false"}),
        error_messages={
            "required": "Enter the code from your authenticator app, or a backup code",
            "max_length": "Enter the 6-digit code from your authenticator app, or a backup code",
        },
    )


class SignInForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Enter a correct user name and password. The password is case-sensitive.",
        "inactive": "This account has been switched off. Ask your administrator.",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].label = "User name"
        self.fields["username"].error_messages["required"] = "Enter your user name"
        self.fields["password"].error_messages["required"] = "Enter your password"


class SignInView(auth_views.LoginView):
    template_name = "accounts/sign_in.html"
    redirect_authenticated_user = True
    authentication_form = SignInForm


sign_in = public(SignInView.as_view())
signed_out = public(TemplateView.as_view(template_name="accounts/signed_out.html"))


@public
@require_POST
def sign_out(request: HttpRequest) -> HttpResponseBase:
    return auth_views.LogoutView.as_view()(request)


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/"
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return "/"


WRONG_CODE = "The code is not right. Enter the code your app shows now"
ENROLMENT_SESSION_KEY = "ehe_enrolment_link"
BACKUP_CODES_SESSION_KEY = "ehe_backup_codes_to_show"


@public
@login_required
def two_factor(request: HttpRequest) -> HttpResponse:
    """Verify a code from the user's authenticator (or a backup code); without an authenticator,
    explain that setting one up needs an enrolment link from an administrator."""
    devices = list(TOTPDevice.objects.devices_for_user(request.user, confirmed=True))
    if not devices:
        return render(request, "accounts/two_factor_needs_link.html")
    form = SignInCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        entered = form.cleaned_data["otp_token"].strip()
        digits = entered.replace(" ", "")
        device: Any = None
        if len(digits) == 6 and digits.isascii() and digits.isdigit():
            device = next((d for d in devices if d.verify_token(digits)), None)
        else:
            device = tf.backup_code_use(user=request.user, code=entered)  # type: ignore[arg-type]
        if device is not None:
            otp_login(request, device)
            return redirect(_safe_next(request))
        form.add_error("otp_token", WRONG_CODE + ", or a backup code you have not used")
    return render(request, "accounts/two_factor_verify.html", {"form": form, "next": _safe_next(request)})


@public
@login_required
def enrol(request: HttpRequest, token: str) -> HttpResponse:
    """Arriving from an enrolment link (after signing in with the password, which the sign-in
    redirect makes sure of): check the link, keep it in the session, and go to the set-up page,
    so the token leaves the address bar."""
    try:
        link = tf.enrolment_link_check(user=request.user, token=token)
    except tf.EnrolmentRefused as refused:
        return render(request, "accounts/enrolment_refused.html", {"reason": refused.reason}, status=403)
    request.session[ENROLMENT_SESSION_KEY] = link.pk
    return redirect("accounts:enrol_set_up")


@public
@login_required
def enrol_set_up(request: HttpRequest) -> HttpResponse:
    """Set up the authenticator: QR code and key, then the first code confirms it and spends the link."""
    link_id = request.session.get(ENROLMENT_SESSION_KEY)
    if not isinstance(link_id, int):
        return redirect("accounts:two_factor")
    user = request.user
    try:
        tf.enrolment_link_live(user=user, link_id=link_id)
    except tf.EnrolmentRefused as refused:
        request.session.pop(ENROLMENT_SESSION_KEY, None)
        return render(request, "accounts/enrolment_refused.html", {"reason": refused.reason}, status=403)
    device = tf.enrolment_device(user)  # type: ignore[arg-type]
    form = OtpTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            done = tf.enrolment_complete(
                user=user,  # type: ignore[arg-type]
                link_id=link_id,
                device_id=device.pk,
                code=form.cleaned_data["otp_token"].replace(" ", ""),
            )
        except tf.EnrolmentRefused as refused:
            request.session.pop(ENROLMENT_SESSION_KEY, None)
            return render(request, "accounts/enrolment_refused.html", {"reason": refused.reason}, status=403)
        if done is not None:
            confirmed, codes = done
            request.session.pop(ENROLMENT_SESSION_KEY, None)
            otp_login(request, confirmed)
            request.session[BACKUP_CODES_SESSION_KEY] = codes
            return redirect(f"{reverse('accounts:backup_codes')}?enrolled=1")
        form.add_error("otp_token", WRONG_CODE)
    context = {
        "form": form,
        "qr_svg": qr_svg(device.config_url, title="QR code to add this service to your authenticator app"),
        "secret": base64.b32encode(device.bin_key).decode(),
    }
    return render(request, "accounts/two_factor_setup.html", context)


@public
@login_required
def backup_codes(request: HttpRequest) -> HttpResponse:
    """Backup codes: new ones are shown once, straight after they are made; otherwise how many
    are left, and a button to make a new set (which replaces the old)."""
    if not request.user.is_verified():  # type: ignore[union-attr]
        return redirect(f"{reverse('accounts:two_factor')}?next={request.path}")
    if request.method == "POST":
        request.session[BACKUP_CODES_SESSION_KEY] = tf.backup_codes_make(
            user=request.user,  # type: ignore[arg-type]
            actor=request.user,  # type: ignore[arg-type]
        )
        return redirect("accounts:backup_codes")
    codes = request.session.pop(BACKUP_CODES_SESSION_KEY, None)
    context = {
        "codes": codes,
        "enrolled": request.GET.get("enrolled") == "1" and bool(codes),
        "left": tf.backup_codes_left(request.user),
    }
    return render(request, "accounts/backup_codes.html", context)
