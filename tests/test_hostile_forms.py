"""Every form class in the product, fed hostile input: only validation errors come back, nothing
is written, and the form still renders.

The forms are found, not listed: every module of the four packages is imported and every
subclass of Django's ``BaseForm`` defined in them is tested, so a new form is fuzzed the day it
is written. Its constructor's keyword arguments are filled in by name from ``ARGUMENTS``; a
form that needs an argument not there fails ``test_every_form_can_be_built`` until one is added.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

import pytest
from django import forms
from django.db import connection
from django.http import QueryDict
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from ehe_register.models import LocalAuthority, School, User
from ehe_register.roles import Role
from imports.formats.notifications import NotificationRowForm
from tests.factories import SchoolFactory, make_episode, make_user
from tests.hostile import BLNS, FUZZ_SETTINGS, hostile_text
from workflows.services.escalations import escalation_raise
from workflows.states import State

PACKAGES = ("ehe_register", "workflows", "imports", "notifications")
# Modules that configure or start something on import rather than define code.
NOT_IMPORTED = ("ehe_register.settings", "ehe_register.wsgi", "ehe_register.celery")
# Sign-in failures are counted (django-axes) by design; every other write is a finding.
WRITES_ALLOWED_TO = ("axes_",)


def _import_everything() -> None:
    for package_name in PACKAGES:
        package = importlib.import_module(package_name)
        for module in pkgutil.walk_packages(package.__path__, prefix=f"{package_name}."):
            if ".migrations" in module.name or module.name in NOT_IMPORTED:
                continue
            importlib.import_module(module.name)


def _subclasses(cls: type) -> Iterable[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def product_forms() -> list[type[forms.BaseForm]]:
    _import_everything()
    found = {
        c
        for c in _subclasses(forms.BaseForm)
        if c.__module__.split(".")[0] in PACKAGES
        # A private base (``_DecisionForm``) is fuzzed through the forms built on it.
        and not (c.__name__.startswith("_") and c.__subclasses__())
    }
    return sorted(found, key=lambda c: f"{c.__module__}.{c.__qualname__}")


FORMS = product_forms()


def _required_keywords(form_class: type) -> set[str]:
    """Keyword-only arguments without a default, across the constructors of the class's MRO, as far
    as each passes its other keywords on (a constructor without ``**kwargs`` ends the chain)."""
    needed: set[str] = set()
    for klass in form_class.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        parameters = inspect.signature(init).parameters.values()
        for parameter in parameters:
            if parameter.kind is inspect.Parameter.KEYWORD_ONLY and parameter.default is inspect.Parameter.empty:
                needed.add(parameter.name)
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
            break
    return needed


class World:
    """What the forms' constructors are given: one LA with a case, an escalation and staff."""

    def __init__(self, la: LocalAuthority) -> None:
        self.la = la
        self.manager = make_user(Role.EHE_MANAGER, la)
        self.officer = make_user(Role.EHE_OFFICER, la)
        self.school_user = make_user(Role.SCHOOL_USER, la)
        self.school = SchoolFactory(local_authority=la)
        self.episode = make_episode(State.EDUCATION_ENQUIRY, la=la)
        self.escalation, _ = escalation_raise(episode=self.episode, rule_name="concern_ticked", as_of=timezone.now())
        self.request = RequestFactory().post("/accounts/sign-in/", REMOTE_ADDR="192.0.2.1")


ARGUMENTS: dict[str, Callable[[World], Any]] = {
    "episode": lambda w: w.episode,
    "escalation": lambda w: w.escalation,
    "schools": lambda w: School.objects.filter(local_authority=w.la),
    "officers": lambda w: User.objects.filter(local_authority=w.la),
    "owners": lambda w: User.objects.filter(local_authority=w.la),
    "people": lambda w: User.objects.filter(local_authority=w.la),
    "today": lambda w: timezone.localdate(),
    "months": lambda w: [date(2026, 1, 1), date(2026, 2, 1)],
    "may_unmask": lambda w: True,
    "officer": lambda w: True,
    # A row of a bulk notifications file: its school, and the fields built once per file.
    "school": lambda w: w.school,
    "fields": lambda w: NotificationRowForm.fields_for(w.la),
    # The legacy register's column mapping: the headings of the file uploaded.
    "headings": lambda w: ["Surname", "Forename", "Date of birth", "Postcode", "Status"],
}
# Arguments that differ for one form (the school's own schools list, a request for sign-in).
SPECIAL: dict[str, Callable[[World], dict[str, Any]]] = {
    "SchoolRequestForm": lambda w: {"schools": list(School.objects.filter(local_authority=w.la))},
    "NotificationForm": lambda w: {"schools": w.school_user.schools.all()},
    "SignInForm": lambda w: {"request": w.request},
}


def build(form_class: type[forms.BaseForm], world: World, data: QueryDict | None) -> forms.BaseForm:
    kwargs = {name: ARGUMENTS[name](world) for name in _required_keywords(form_class)}
    kwargs.update(SPECIAL.get(form_class.__name__, lambda w: {})(world))
    return form_class(data=data, **kwargs)


def data_keys(form: forms.BaseForm) -> list[str]:
    """Every name the form reads from a POST: a date's day, month and year boxes included."""
    keys: list[str] = []
    for name, field in form.fields.items():
        key = form.add_prefix(name)
        widget = field.widget
        if isinstance(widget, forms.MultiWidget):
            keys.extend(f"{key}{suffix}" for suffix in widget.widgets_names)
        else:
            keys.append(key)
    return keys


def as_query(values: dict[str, list[str]]) -> QueryDict:
    query = QueryDict(mutable=True)
    for key, items in values.items():
        query.setlist(key, items)
    return query


def exercise(form_class: type[forms.BaseForm], world: World, data: QueryDict, *, render: bool) -> None:
    """Validate (and render) the form on ``data``: nothing may raise, nothing may be written."""
    with CaptureQueriesContext(connection) as queries:
        form = build(form_class, world, data)
        form.is_valid()
        if render:
            form.render()
            for field in form:
                field.as_field_group()
    writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
        and not any(f'"{table}' in q["sql"] for table in WRITES_ALLOWED_TO)
    ]
    assert writes == [], f"{form_class.__name__} wrote while validating: {writes[:2]}"


@pytest.fixture
def world(la: LocalAuthority) -> World:
    return World(la)


def test_forms_are_found() -> None:
    names = {f.__name__ for f in FORMS}
    assert {"NotificationForm", "ActivityForm", "NewCaseForm", "AccessLogFilterForm", "SignInCodeForm"} <= names
    assert len(FORMS) >= 40


@pytest.mark.django_db
@pytest.mark.parametrize("form_class", FORMS, ids=lambda f: f.__qualname__)
def test_every_form_can_be_built(form_class: type[forms.BaseForm], world: World) -> None:
    missing = _required_keywords(form_class) - set(ARGUMENTS)
    assert not missing, f"add {sorted(missing)} to ARGUMENTS in {__name__}"
    form = build(form_class, world, None)
    assert data_keys(form)  # a form with no input is not a form


@pytest.mark.django_db
@pytest.mark.parametrize("form_class", FORMS, ids=lambda f: f.__qualname__)
def test_every_naughty_string_in_every_field(form_class: type[forms.BaseForm], world: World) -> None:
    """All 461 strings, each put into every field at once (and, for list fields, as a list)."""
    keys = data_keys(build(form_class, world, None))
    for number, hostile in enumerate(BLNS):
        exercise(form_class, world, as_query({key: [hostile] for key in keys}), render=number % 23 == 0)
    # Each string alone in one field, the others left empty: reaches per-field cleaning with
    # the rest of the form in its simplest state.
    for number, key in enumerate(keys):
        exercise(form_class, world, as_query({key: [BLNS[(number * 37) % len(BLNS)]]}), render=False)


@pytest.mark.django_db
@pytest.mark.parametrize("form_class", FORMS, ids=lambda f: f.__qualname__)
def test_hypothesis_input_to_every_form(form_class: type[forms.BaseForm], world: World) -> None:
    keys = data_keys(build(form_class, world, None))

    @FUZZ_SETTINGS
    @given(
        st.dictionaries(
            st.sampled_from(keys),
            st.lists(hostile_text(), min_size=1, max_size=3),
            min_size=1,
        )
    )
    def run(values: dict[str, list[str]]) -> None:
        exercise(form_class, world, as_query(values), render=True)

    run()
