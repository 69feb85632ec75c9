"""``field__any=values``: ``field = ANY(%s)``, the values sent as one array parameter.

The same rows as ``field__in=values``. For the long lists a bulk import reads with (a chunk's
thousand dates of birth, four thousand phone numbers), ``__in`` prepares, quotes and sends one
parameter per value, which cost more than the query itself; an array is one parameter, and
PostgreSQL uses the same index for it. The values are sent as they are: give values of the
column's own type (dates for a date, text for text, ints for an id).
"""

from __future__ import annotations

from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, ForeignObject, Lookup
from django.db.models.sql.compiler import SQLCompiler


class AnyOf(Lookup):  # type: ignore[type-arg]
    lookup_name = "any"
    prepare_rhs = False

    def get_prep_lookup(self) -> list[Any]:
        return list(self.rhs)

    def as_sql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", [*lhs_params, list(self.rhs)]


# On every field; a foreign key keeps lookups of its own, so it is given this one too.
Field.register_lookup(AnyOf)
ForeignObject.register_lookup(AnyOf)
