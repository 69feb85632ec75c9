"""Every Django form rendered as GOV.UK Frontend markup, through Django's form-template API.

``FORM_RENDERER = "ehe_register.forms_rendering.GovukFormRenderer"`` makes ``{{ form }}`` and
``{{ form.field.as_field_group }}`` use ``templates/forms/govuk/``: a form group with a label
(or a fieldset and legend for radios, checkboxes and dates), the hint from ``help_text``, the
error message and the control. Ids follow Django's own scheme, so the ``aria-describedby`` that
Django puts on a control always points at something on the page: the hint is
``<auto_id>_helptext`` and the error message ``<auto_id>_error``.

Dates are asked for as GOV.UK's day, month and year boxes (``GovukDateField``), never a date
picker, and a wrong date gets a plain-English message that names the question.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.boundfield import BoundField
from django.forms.renderers import DjangoTemplates, TemplatesSetting
from django.template import TemplateDoesNotExist
from django.utils.html import conditional_escape, escape, format_html
from django.utils.safestring import SafeString

from ehe_register.forms.fields import ascii_digits

# The GOV.UK class each kind of Django widget's control needs, and the class it adds on error.
# Keys are Django's ``BoundField.widget_type`` (the widget's class name, lower case, without
# "Widget" or "Input").
_CONTROL_CLASSES: dict[str, str] = {
    "text": "govuk-input",
    "email": "govuk-input",
    "url": "govuk-input",
    "number": "govuk-input",
    "date": "govuk-input",
    "datetime": "govuk-input",
    "time": "govuk-input",
    "password": "govuk-input govuk-password-input__input govuk-js-password-input-input",
    "textarea": "govuk-textarea",
    "select": "govuk-select",
    "nullbooleanselect": "govuk-select",
    "radioselect": "govuk-radios__input",
    "checkbox": "govuk-checkboxes__input",
    "checkboxselectmultiple": "govuk-checkboxes__input",
    "file": "govuk-file-upload",
    "clearablefile": "govuk-file-upload",
}
_ERROR_CLASSES: dict[str, str] = {
    "govuk-input": "govuk-input--error",
    "govuk-textarea": "govuk-textarea--error",
    "govuk-select": "govuk-select--error",
    "govuk-file-upload": "govuk-file-upload--error",
}
# Attributes GOV.UK sets on a control unless the form already chose a value. No autocomplete
# default for email: most addresses typed here are a family's, not the user's own.
_CONTROL_DEFAULT_ATTRS: dict[str, dict[str, str]] = {
    "password": {"spellcheck": "false", "autocapitalize": "none"},
    "email": {"spellcheck": "false"},
}


def _widget_type(widget: forms.Widget) -> str:
    # The same rule as Django's BoundField.widget_type, for a widget other than the field's own.
    return re.sub(r"widget$|input$", "", widget.__class__.__name__.lower())


class GovukBoundField(BoundField):
    """A bound field whose control carries GOV.UK's classes, and its error class when invalid."""

    def build_widget_attrs(self, attrs: dict[str, Any], widget: forms.Widget | None = None) -> dict[str, Any]:
        widget = widget or self.field.widget
        attrs = super().build_widget_attrs(attrs, widget)
        widget_type = _widget_type(widget)
        control_class = _CONTROL_CLASSES.get(widget_type)
        if control_class is None:
            return attrs
        for name, value in _CONTROL_DEFAULT_ATTRS.get(widget_type, {}).items():
            if name not in widget.attrs:
                attrs.setdefault(name, value)
        classes = [control_class]
        if extra := attrs.get("class") or widget.attrs.get("class"):
            classes.append(str(extra))
        if self.errors and (error_class := _ERROR_CLASSES.get(control_class.split()[0])):
            classes.append(error_class)
        attrs["class"] = " ".join(classes)
        return attrs


# Django's own form and widget templates, for when "django.forms" is not in INSTALLED_APPS.
_django_form_templates = DjangoTemplates()


class GovukFormRenderer(TemplatesSetting):
    """Renders forms with ``templates/forms/govuk/`` and GOV.UK classes on every control.

    Templates come from the TEMPLATES setting first, so the project's own win. Django's stock
    widget templates (``django/forms/widgets/...``) are found there only when "django.forms" is
    in INSTALLED_APPS (the admin's widgets need that, because their templates include the stock
    ones); the fallback keeps every form that this renderer renders working without it.
    """

    form_template_name = "forms/govuk/form.html"
    field_template_name = "forms/govuk/field.html"
    bound_field_class = GovukBoundField

    def get_template(self, template_name: str) -> Any:
        try:
            return super().get_template(template_name)
        except TemplateDoesNotExist:
            return _django_form_templates.get_template(template_name)

    def render(self, template_name: str, context: dict[str, Any], request: Any = None) -> str:
        """Django's own ``<input>`` templates written in Python, to the byte (``_input_html``);
        every other template through the engine. A form's inputs and radios were most of the
        time of the school's notification form (three template renders a radio, two an input)."""
        if template_name in _INPUT_TEMPLATES:
            return _input_html(context["widget"])
        if template_name in _INPUT_OPTION_TEMPLATES:
            return _input_option_html(context["widget"])
        return super().render(template_name, context, request)


# Django's widget templates that are only ``{% include "django/forms/widgets/input.html" %}``, and
# those that are only ``{% include "django/forms/widgets/input_option.html" %}`` (a renderer strips
# what a template gives, so the files' final newlines are not part of the control).
_INPUT_TEMPLATES = frozenset(
    f"django/forms/widgets/{name}.html"
    for name in ("text", "email", "password", "hidden", "number", "tel", "url", "search", "checkbox")
)
_INPUT_OPTION_TEMPLATES = frozenset(
    ("django/forms/widgets/radio_option.html", "django/forms/widgets/checkbox_option.html")
)


def _input_html(widget: dict[str, Any]) -> SafeString:
    """``django/forms/widgets/input.html``, stripped."""
    value = widget["value"]
    html = format_html('<input type="{}" name="{}"', widget["type"], widget["name"])
    if value is not None:
        html += format_html(' value="{}"', str(value))  # the template's stringformat:'s' (safe stays safe)
    return SafeString(html + _attrs_html(widget["attrs"]) + ">")


def _input_option_html(widget: dict[str, Any]) -> SafeString:
    """``django/forms/widgets/input_option.html`` (a radio or checkbox option), stripped: the
    input, in its label (after the input's newline) when the widget wraps it."""
    if not widget.get("wrap_label"):
        return _input_html(widget)
    for_id = widget["attrs"].get("id")
    label = format_html(' for="{}"', for_id) if for_id else ""
    return format_html("<label{}>{}\n {}</label>", label, _input_html(widget), widget["label"])


# ----------------------------------------------------------------------------------------------
# Dates


class GovukDateWidget(forms.MultiWidget):
    """GOV.UK's date input: day, month and year text boxes (``widget_type`` "govukdate").

    The boxes are named ``<name>_day``, ``<name>_month`` and ``<name>_year`` and have the ids
    ``<auto_id>_day`` and so on; the error summary links to the day box.
    """

    template_name = "forms/govuk/widgets/date.html"
    parts = ("day", "month", "year")

    def __init__(self, attrs: dict[str, Any] | None = None, *, date_of_birth: bool = False) -> None:
        widths = {"day": 2, "month": 2, "year": 4}
        widgets: dict[str, forms.Widget | type[forms.Widget]] = {}
        for part in self.parts:
            part_attrs = {
                "class": f"govuk-input govuk-date-input__input govuk-input--width-{widths[part]}",
                "inputmode": "numeric",
            }
            if date_of_birth:
                part_attrs["autocomplete"] = f"bday-{part}"
            widgets[part] = forms.TextInput(attrs=part_attrs)
        super().__init__(widgets, attrs)

    def decompress(self, value: datetime.date | None) -> list[int | None]:
        if value:
            return [value.day, value.month, value.year]
        return [None, None, None]

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        widget = context["widget"]
        base_id = widget["attrs"].get("id")
        invalid = widget["attrs"].get("aria-invalid") == "true"
        for part, subwidget in zip(self.parts, widget["subwidgets"], strict=True):
            subwidget["label"] = part.capitalize()
            if base_id:
                subwidget["attrs"]["id"] = f"{base_id}_{part}"
            if invalid:
                subwidget["attrs"]["class"] += " govuk-input--error"
        return context


_MONTH_NAMES = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]


def _month_number(text: str) -> int | None:
    """12, "12", "Dec" and "December" are all December; anything else is None."""
    if ascii_digits(text):
        return int(text) if len(text) <= 2 else None
    lowered = text.lower()
    if len(lowered) >= 3:
        for number, name in enumerate(_MONTH_NAMES, start=1):
            if name.startswith(lowered):
                return number
    return None


def _lower_first(label: str) -> str:
    # "Date of birth" -> "date of birth", but "UPN issue date" keeps its capitals.
    if len(label) > 1 and label[1].isupper():
        return label
    return label[:1].lower() + label[1:]


class GovukDateField(forms.MultiValueField):
    """A date asked for as day, month and year, with GOV.UK's error messages.

    Messages name the question, for example "Date of birth must include a month" or
    "Date of birth must be a real date"; a field with no label says "Date". Override any of
    them with ``error_messages``; ``{label}`` and ``{lower_label}`` are filled in.
    """

    widget = GovukDateWidget
    default_error_messages = {
        "required": "Enter {lower_label}",
        "incomplete": "{label} must include {missing}",
        "invalid": "{label} must be a real date",
        "invalid_year": "Year must include 4 numbers",
    }

    def __init__(self, **kwargs: Any) -> None:
        fields = tuple(forms.CharField(required=False, strip=True) for _ in GovukDateWidget.parts)
        super().__init__(fields, require_all_fields=False, **kwargs)

    def _error(self, code: str, **params: str) -> ValidationError:
        label = str(self.label) if self.label else "Date"
        message = self.error_messages[code].format(label=label, lower_label=_lower_first(label), **params)
        return ValidationError(message, code=code)

    def clean(self, value: Any) -> datetime.date | None:
        if self.required and not any(str(part or "").strip() for part in value or []):
            raise self._error("required")
        return super().clean(value)

    def compress(self, data_list: list[str]) -> datetime.date | None:
        if not data_list or not any(data_list):
            return None
        day, month, year = (str(part or "").strip() for part in data_list)
        missing = [part for part, text in zip(GovukDateWidget.parts, (day, month, year), strict=True) if not text]
        if missing:
            raise self._error("incomplete", missing="a " + " and ".join(missing))
        month_number = _month_number(month)
        if not ascii_digits(day) or month_number is None or not ascii_digits(year):
            raise self._error("invalid")
        if len(year) != 4:
            raise self._error("invalid_year")
        try:
            return datetime.date(int(year), month_number, int(day))
        except (ValueError, OverflowError):
            raise self._error("invalid") from None


def _attrs_html(attrs: dict[str, Any]) -> SafeString:
    """Attributes as Django's ``django/forms/widgets/attrs.html`` writes them (escaped)."""
    html = SafeString()
    for name, value in attrs.items():
        if value is False:
            continue
        html += format_html(" {}", name) if value is True else format_html(' {}="{}"', name, str(value))
    return html


class Select(forms.Select):
    """Django's ``Select`` with the same markup, written in Python rather than one template include
    per option: a list of schools or officers grows with the LA, and rendering each option through
    the template engine cost about a millisecond an option, most of a queue page's time.

    The class keeps the name ``Select`` on purpose: ``BoundField.widget_type`` (and so the GOV.UK
    class ``govuk-select``) is taken from it.
    """

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> SafeString:
        # The widget's own context without Django's option dictionaries (``optgroups``: several
        # dictionaries and a copy of the attributes per option, most of the time of a long list);
        # the options are written straight from the choices, selected as ``optgroups`` selects them.
        widget = forms.Widget.get_context(self, name, value, attrs)["widget"]
        if self.allow_multiple_selected:
            widget["attrs"]["multiple"] = True
        chosen = set(widget["value"])
        has_selected = False
        # Parts joined once at the end: adding each option to the string so far copied it again
        # for every option (quadratic in the length of the list).
        parts: list[str] = [format_html('<select name="{}"{}>', widget["name"], _attrs_html(widget["attrs"]))]
        for group_value, group_label in self.choices:
            if isinstance(group_label, list | tuple):
                parts.append(format_html('\n  <optgroup label="{}">', group_value))
                options = group_label
            else:
                options = [(group_value, group_label)]
            for option_value, option_label in options:
                text = "" if option_value is None else str(option_value)
                selected = (not has_selected or self.allow_multiple_selected) and text in chosen
                has_selected |= selected
                parts.append(
                    f'\n  <option value="{escape(text)}"{" selected" if selected else ""}>'
                    f"{conditional_escape(option_label)}</option>\n"
                )
            if isinstance(group_label, list | tuple):
                parts.append("\n  </optgroup>")
        parts.append("\n</select>")
        return SafeString("".join(parts))
