"""The product's forms, by audience (``portal`` for school users)."""
