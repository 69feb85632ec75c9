"""GOV.UK markup from Django forms, the GOV.UK date field, and the base page template.

Pure rendering: no database. FORM_RENDERER is set here so these tests do not depend on
settings.py having it.
"""

from __future__ import annotations

import datetime
from html.parser import HTMLParser
from types import SimpleNamespace
from typing import Any

import pytest
from django import forms
from django.template.loader import render_to_string

from ehe_register.forms_rendering import GovukDateField, GovukDateWidget


@pytest.fixture(autouse=True)
def govuk_renderer(settings: Any) -> None:
    settings.FORM_RENDERER = "ehe_register.forms_rendering.GovukFormRenderer"


class _Elements(HTMLParser):
    """Every start tag in a page, as (tag, attributes), for assertions that ignore layout."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {name: value or "" for name, value in attrs}))

    def by_id(self, element_id: str) -> tuple[str, dict[str, str]]:
        found = [element for element in self.elements if element[1].get("id") == element_id]
        assert len(found) == 1, f"expected one element with id {element_id!r}, found {len(found)}"
        return found[0]

    def with_class(self, css_class: str) -> list[tuple[str, dict[str, str]]]:
        return [element for element in self.elements if css_class in element[1].get("class", "").split()]


class ChildForm(forms.Form):
    full_name = forms.CharField(
        label="Full name",
        help_text="As it appears on the birth certificate",
        max_length=100,
        widget=forms.TextInput(attrs={"autocomplete": "name", "spellcheck": "false"}),
        error_messages={"required": "Enter the child's full name"},
    )
    school_type = forms.ChoiceField(
        label="Where did the child go to school?",
        help_text="Choose one",
        choices=[("mainstream", "Mainstream school"), ("special", "Special school")],
        widget=forms.RadioSelect,
        error_messages={"required": "Select where the child went to school"},
    )
    date_of_birth = GovukDateField(label="Date of birth", widget=GovukDateWidget(date_of_birth=True))
    upn = forms.CharField(
        label="Unique pupil number", required=False, widget=forms.TextInput(attrs={"inputmode": "text"})
    )
    notes = forms.CharField(label="Notes", required=False, widget=forms.Textarea)
    local_authority = forms.ChoiceField(label="Local authority", choices=[("", "Choose"), ("936", "Surrey")])
    concern = forms.BooleanField(label="There is a safeguarding concern", required=False)
    episode_version = forms.IntegerField(widget=forms.HiddenInput, required=False)


VALID_DATA = {
    "full_name": "Ada Lovelace",
    "school_type": "special",
    "date_of_birth_day": "10",
    "date_of_birth_month": "12",
    "date_of_birth_year": "2015",
    "local_authority": "936",
    "episode_version": "3",
}


def test_text_field_with_help_text_and_error() -> None:
    form = ChildForm(data={**VALID_DATA, "full_name": ""})
    assert not form.is_valid()
    page = _Elements(str(form))

    group = next(
        element for element in page.with_class("govuk-form-group") if "govuk-form-group--error" in element[1]["class"]
    )
    assert group[0] == "div"
    assert page.by_id("id_full_name_helptext")[1]["class"] == "govuk-hint"
    assert page.by_id("id_full_name_error") == ("p", {"id": "id_full_name_error", "class": "govuk-error-message"})
    tag, control = page.by_id("id_full_name")
    assert tag == "input"
    assert control["class"].split() == ["govuk-input", "govuk-input--error"]
    assert control["aria-describedby"] == "id_full_name_helptext id_full_name_error"
    assert control["aria-invalid"] == "true"
    # The widget's own attributes survive.
    assert (control["autocomplete"], control["spellcheck"], control["maxlength"]) == ("name", "false", "100")
    assert '<span class="govuk-visually-hidden">Error:</span> Enter the child&#x27;s full name</p>' in str(form)
    assert '<label class="govuk-label govuk-label--s" for="id_full_name">Full name</label>' in str(form)


def test_valid_field_has_no_error_markup() -> None:
    form = ChildForm(data=VALID_DATA)
    assert form.is_valid(), form.errors
    html = str(form)
    assert "govuk-form-group--error" not in html
    assert "govuk-error-message" not in html
    assert _Elements(html).by_id("id_full_name")[1]["aria-describedby"] == "id_full_name_helptext"


def test_radios_render_a_fieldset_with_a_legend() -> None:
    form = ChildForm(data={**VALID_DATA, "school_type": ""})
    form.is_valid()
    html = form["school_type"].as_field_group()
    page = _Elements(html)

    fieldset = next(element for element in page.elements if element[0] == "fieldset")
    assert fieldset[1]["class"] == "govuk-fieldset"
    assert fieldset[1]["aria-describedby"] == "id_school_type_helptext id_school_type_error"
    assert (
        '<legend class="govuk-fieldset__legend govuk-fieldset__legend--s">Where did the child go to school?</legend>'
        in html
    )
    assert page.with_class("govuk-radios")[0][1]["data-module"] == "govuk-radios"
    radios = page.with_class("govuk-radios__input")
    assert [radio[1]["id"] for radio in radios] == ["id_school_type_0", "id_school_type_1"]
    assert all(radio[1]["type"] == "radio" and radio[1]["name"] == "school_type" for radio in radios)
    assert '<label class="govuk-label govuk-radios__label" for="id_school_type_1">Special school</label>' in html
    assert "govuk-form-group--error" in html


def test_checked_radio_keeps_its_choice() -> None:
    form = ChildForm(data=VALID_DATA)
    radios = _Elements(form["school_type"].as_field_group()).with_class("govuk-radios__input")
    assert ["checked" in radio[1] for radio in radios] == [False, True]


def test_other_controls_get_govuk_classes() -> None:
    form = ChildForm(data={**VALID_DATA, "local_authority": ""})
    form.is_valid()
    page = _Elements(str(form))
    assert page.by_id("id_notes") == ("textarea", page.by_id("id_notes")[1])
    assert page.by_id("id_notes")[1]["class"] == "govuk-textarea"
    assert page.by_id("id_local_authority")[1]["class"] == "govuk-select govuk-select--error"
    assert page.by_id("id_concern")[1]["class"] == "govuk-checkboxes__input"
    assert page.by_id("id_upn")[1]["inputmode"] == "text"
    # Hidden fields are rendered plainly, outside any form group.
    assert page.by_id("id_episode_version")[1] == {
        "type": "hidden",
        "name": "episode_version",
        "value": "3",
        "id": "id_episode_version",
    }


def test_non_field_errors_are_shown() -> None:
    class StaleForm(ChildForm):
        def clean(self) -> dict[str, Any]:
            raise forms.ValidationError("Someone else changed this case. Check it and try again")

    form = StaleForm(data=VALID_DATA)
    assert not form.is_valid()
    assert '<span class="govuk-visually-hidden">Error:</span> Someone else changed this case.' in str(form)


class DateForm(forms.Form):
    date_of_birth = GovukDateField(label="Date of birth")
    closed_on = GovukDateField(required=False)


def _date_errors(day: str, month: str, year: str) -> list[str]:
    form = DateForm(data={"date_of_birth_day": day, "date_of_birth_month": month, "date_of_birth_year": year})
    form.is_valid()
    return list(form.errors.get("date_of_birth", []))


@pytest.mark.parametrize(
    ("day", "month", "year", "expected"),
    [
        ("10", "12", "2015", datetime.date(2015, 12, 10)),
        (" 1 ", "02", "2016", datetime.date(2016, 2, 1)),
        ("29", "Feb", "2016", datetime.date(2016, 2, 29)),
        ("5", "september", "2014", datetime.date(2014, 9, 5)),
    ],
)
def test_date_field_builds_a_date(day: str, month: str, year: str, expected: datetime.date) -> None:
    form = DateForm(data={"date_of_birth_day": day, "date_of_birth_month": month, "date_of_birth_year": year})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["date_of_birth"] == expected
    assert form.cleaned_data["closed_on"] is None


@pytest.mark.parametrize(
    ("day", "month", "year", "message"),
    [
        ("", "", "", "Enter date of birth"),
        ("10", "", "2015", "Date of birth must include a month"),
        ("", "12", "2015", "Date of birth must include a day"),
        ("10", "12", "", "Date of birth must include a year"),
        ("", "12", "", "Date of birth must include a day and year"),
        ("31", "2", "2015", "Date of birth must be a real date"),
        ("10", "13", "2015", "Date of birth must be a real date"),
        ("ten", "12", "2015", "Date of birth must be a real date"),
        ("10", "Ma", "2015", "Date of birth must be a real date"),
        ("10", "12", "15", "Year must include 4 numbers"),
    ],
)
def test_date_field_explains_what_is_wrong(day: str, month: str, year: str, message: str) -> None:
    assert _date_errors(day, month, year) == [message]


def test_date_field_without_a_label_says_date() -> None:
    form = DateForm(
        data={
            "date_of_birth_day": "1",
            "date_of_birth_month": "1",
            "date_of_birth_year": "2015",
            "closed_on_day": "30",
            "closed_on_month": "2",
            "closed_on_year": "2024",
        }
    )
    assert not form.is_valid()
    assert form.errors["closed_on"] == ["Date must be a real date"]


def test_date_field_renders_govuk_date_input_in_a_fieldset() -> None:
    form = DateForm(data={"date_of_birth_day": "10", "date_of_birth_month": "", "date_of_birth_year": "2015"})
    form.is_valid()
    html = form["date_of_birth"].as_field_group()
    page = _Elements(html)

    fieldset = next(element for element in page.elements if element[0] == "fieldset")
    assert fieldset[1] == {"class": "govuk-fieldset", "role": "group", "aria-describedby": "id_date_of_birth_error"}
    assert '<legend class="govuk-fieldset__legend govuk-fieldset__legend--s">Date of birth</legend>' in html
    assert page.by_id("id_date_of_birth")[1]["class"] == "govuk-date-input"
    for part, width, value in [("day", 2, "10"), ("month", 2, None), ("year", 4, "2015")]:
        attrs = page.by_id(f"id_date_of_birth_{part}")[1]
        assert attrs["name"] == f"date_of_birth_{part}"
        assert attrs["inputmode"] == "numeric"
        assert attrs["class"].split() == [
            "govuk-input",
            "govuk-date-input__input",
            f"govuk-input--width-{width}",
            "govuk-input--error",
        ]
        assert attrs.get("value") == value
        assert f'for="id_date_of_birth_{part}">{part.capitalize()}</label>' in html
    assert "Date of birth must include a month" in html


def test_date_of_birth_widget_asks_browsers_to_autocomplete_a_birthday() -> None:
    form = ChildForm(initial={"date_of_birth": datetime.date(2015, 12, 10)})
    page = _Elements(form["date_of_birth"].as_field_group())
    assert page.by_id("id_date_of_birth_month")[1]["autocomplete"] == "bday-month"
    assert page.by_id("id_date_of_birth_month")[1]["value"] == "12"
    assert "govuk-input--error" not in page.by_id("id_date_of_birth_month")[1]["class"]


def test_error_summary_links_each_error_to_its_control() -> None:
    form = ChildForm(
        data={**VALID_DATA, "full_name": "", "school_type": "", "date_of_birth_month": "", "local_authority": ""}
    )
    form.is_valid()
    html = render_to_string("includes/error_summary.html", {"form": form})
    page = _Elements(html)

    assert page.with_class("govuk-error-summary")[0][1]["data-module"] == "govuk-error-summary"
    assert '<h2 class="govuk-error-summary__title">There is a problem</h2>' in html
    links = [attrs["href"] for tag, attrs in page.elements if tag == "a"]
    assert links == ["#id_full_name", "#id_school_type_0", "#id_date_of_birth_day", "#id_local_authority"]
    assert '<a href="#id_date_of_birth_day">Date of birth must include a month</a>' in html


def test_error_summary_is_empty_without_errors() -> None:
    assert render_to_string("includes/error_summary.html", {"form": ChildForm()}).strip() == ""
    assert render_to_string("includes/error_summary.html", {"form": ChildForm(data=VALID_DATA)}).strip() == ""


# ----------------------------------------------------------------------------------------------
# The base page template, rendered without context processors: what it shows for the context
# it is given. Nothing inline, so the strict Content Security Policy holds.


def _page(**context: Any) -> str:
    defaults = {
        "council_name": "Surrey County Council",
        "service_name": "Elective home education register",
        "phase": "beta",
        "require_2fa": True,
        "navigation": [],
        "user": SimpleNamespace(is_authenticated=False),
    }
    return render_to_string("pages/accessibility.html", {**defaults, **context})


def _signed_in(name: str = "Sam Officer") -> SimpleNamespace:
    return SimpleNamespace(is_authenticated=True, display_name=name)


def test_base_template_has_no_inline_script_or_style() -> None:
    page = _Elements(_page(user=_signed_in(), require_2fa=False))
    assert all(tag != "style" and "style" not in attrs for tag, attrs in page.elements)
    scripts = [attrs for tag, attrs in page.elements if tag == "script"]
    assert scripts == [{"type": "module", "src": "/static/js/application.mjs"}]


def test_base_template_title_header_and_footer() -> None:
    html = _page(user=_signed_in())
    dash = "\N{EN DASH}"
    title = f"Accessibility statement {dash} Elective home education register {dash} Surrey County Council"
    assert f"<title>{title}</title>" in html
    assert '<html lang="en-GB" class="govuk-template">' in html
    assert '<a href="#main-content" class="govuk-skip-link" data-module="govuk-skip-link">' in html
    assert '<main class="govuk-main-wrapper" id="main-content">' in html
    assert "Sam Officer" in html
    assert "© Surrey County Council" in html
    assert "Crown copyright" not in html
    assert "Open Government Licence" not in html
    page = _Elements(html)
    sign_out = next(attrs for tag, attrs in page.elements if tag == "form")
    assert (sign_out["method"], sign_out["action"]) == ("post", "/accounts/sign-out/")


def test_navigation_marks_the_current_page() -> None:
    navigation = [
        {"label": "Home", "url": "/", "active": True},
        {"label": "Administration", "url": "/admin/", "active": False},
    ]
    page = _Elements(_page(user=_signed_in(), navigation=navigation))
    links = page.with_class("govuk-service-navigation__link")
    assert [attrs.get("aria-current") for attrs in (link[1] for link in links)] == [None, "page", None]


def test_two_factor_off_banner_only_for_signed_in_users() -> None:
    warning = "Two-factor sign-in is switched off on this installation."
    assert warning in _page(user=_signed_in(), require_2fa=False)
    assert warning not in _page(user=_signed_in(), require_2fa=True)
    assert warning not in _page(require_2fa=False)
    banner = _Elements(_page(user=_signed_in(), require_2fa=False)).with_class("app-banner--warning")[0]
    assert banner[1]["role"] == "region"
    assert banner[1]["aria-label"]


@pytest.mark.parametrize(
    ("day", "month", "year"),
    [
        ("1", "²", "2014"),
        ("99999999999999999999", "1", "2014"),
        ("1", "1", "٢٠١٤"),
        ("1", "99999999999999999999", "2014"),
        ("1", "1" * 5000, "2014"),
    ],
)
def test_a_date_with_odd_digits_is_an_error_not_a_crash(day: str, month: str, year: str) -> None:
    from ehe_register.forms_rendering import GovukDateField

    field = GovukDateField(label="Date of birth")
    with pytest.raises(forms.ValidationError, match=r"Date of birth must be a real date|Year must include 4 numbers"):
        field.clean([day, month, year])


# --- Django's <input> templates written in Python: the same bytes as the templates --------------


class _EveryInput(forms.Form):
    text = forms.CharField(widget=forms.TextInput(attrs={"autocomplete": "off", "data-x": '"<&>"', "hidden": True}))
    email = forms.EmailField()
    password = forms.CharField(widget=forms.PasswordInput(render_value=True))
    hidden = forms.CharField(widget=forms.HiddenInput)
    number = forms.IntegerField()
    url = forms.URLField(assume_scheme="https")
    tick = forms.BooleanField(required=False)
    radios = forms.ChoiceField(choices=[("a", "A <b>"), ("b", "B & C")], widget=forms.RadioSelect)
    ticks = forms.MultipleChoiceField(choices=[("x", "X"), ("y", "Y")], widget=forms.CheckboxSelectMultiple)


def _through_the_engine(renderer: Any) -> Any:
    """The same renderer with every template rendered by the template engine."""
    from django.forms.renderers import TemplatesSetting

    class Engine(type(renderer)):  # type: ignore[misc]
        def render(self, template_name: str, context: dict[str, Any], request: Any = None) -> str:
            return TemplatesSetting.render(self, template_name, context, request)

    return Engine()


HOSTILE = {
    "text": '"><script>alert(1)</script>',
    "email": "a@b.c' onmouseover='x",
    "password": "p&ss",
    "hidden": "<h>",
    "number": "12",
    "url": "javascript:alert(1)",
    "tick": "on",
    "radios": "b",
    "ticks": ["x", "y"],
}


@pytest.mark.parametrize("data", [None, HOSTILE, {"radios": "z", "number": "x"}])
def test_inputs_written_in_python_are_the_templates_to_the_byte(data: Any) -> None:
    from django.forms.renderers import get_default_renderer
    from django.utils.datastructures import MultiValueDict

    from ehe_register.forms_rendering import _INPUT_OPTION_TEMPLATES, _INPUT_TEMPLATES

    fast = get_default_renderer()
    engine = _through_the_engine(fast)
    bound = None if data is None else MultiValueDict({k: v if isinstance(v, list) else [v] for k, v in data.items()})
    seen: set[str] = set()
    fast_form, engine_form = _EveryInput(bound, renderer=fast), _EveryInput(bound, renderer=engine)
    _same_markup(fast_form, engine_form, seen)
    assert seen & _INPUT_TEMPLATES  # the fast paths were taken
    assert seen & _INPUT_OPTION_TEMPLATES


def _same_markup(fast_form: forms.Form, engine_form: forms.Form, seen: set[str]) -> None:
    for name in fast_form.fields:
        fast_field, engine_field = fast_form[name], engine_form[name]
        assert str(fast_field) == str(engine_field)
        assert fast_field.as_field_group() == engine_field.as_field_group()
        for fast_option, engine_option in zip(fast_field.subwidgets, engine_field.subwidgets, strict=True):
            assert fast_option.tag() == engine_option.tag()
            assert fast_option.tag(wrap_label=True) == engine_option.tag(wrap_label=True)
            seen.add(fast_option.data["template_name"])
        seen.add(fast_field.field.widget.template_name)


@pytest.mark.django_db
@pytest.mark.parametrize("answers", ["none", "valid", "hostile"])
def test_the_notification_form_is_the_same_markup_with_inputs_written_in_python(answers: str) -> None:
    from django.forms.renderers import get_default_renderer

    from ehe_register.forms.portal import NotificationForm
    from ehe_register.models import School
    from tests.ehe_register.test_portal_forms import valid_data
    from tests.factories import LocalAuthorityFactory, SchoolFactory

    la = LocalAuthorityFactory()
    SchoolFactory(local_authority=la)
    SchoolFactory(local_authority=la)  # two schools: the school question is asked too
    data = {"none": None, "valid": valid_data(la), "hostile": {**valid_data(la), **HOSTILE_ANSWERS}}[answers]
    fast = get_default_renderer()
    forms_ = [
        NotificationForm(data, schools=School.objects.all(), renderer=r) for r in (fast, _through_the_engine(fast))
    ]
    if data is not None:
        for form in forms_:
            form.is_valid()
    _same_markup(*forms_, set())


HOSTILE_ANSWERS = {
    "legal_first_name": '"><img src=x onerror=alert(1)>',
    "sex": "<X>",
    "postcode": "' onfocus='x",
    "parent_1_parental_responsibility": '"',
    "date_of_birth_day": "&amp;",
}


SELECT_CHOICES: list[Any] = [
    ("", "Any"),
    (None, "Nothing"),
    ("1", 'Zoë "<b>" & Łukasz'),
    (2, "Two"),
    ("Fruit", [("a", "Apple"), ("b", "<Banana>")]),
    ("1", "One again"),  # only the first of two equal values is selected by a single select
]


@pytest.mark.parametrize("value", [None, "", "1", 2, "b", ["1", "b"], '"><script>'])
@pytest.mark.parametrize("multiple", [False, True])
def test_the_select_written_in_python_is_djangos_to_the_byte(value: Any, multiple: bool) -> None:
    from ehe_register.forms_rendering import Select

    class Ours(Select):
        allow_multiple_selected = multiple

    class Djangos(forms.Select):
        allow_multiple_selected = multiple

    attrs = {"id": "id_x", "class": "govuk-select", "aria-describedby": "x-hint"}
    ours = Ours(choices=SELECT_CHOICES).render("x", value, attrs=attrs)
    djangos = Djangos(choices=SELECT_CHOICES).render("x", value, attrs=attrs)
    assert ours == djangos
    assert "selected" in ours or value in (None, '"><script>')
