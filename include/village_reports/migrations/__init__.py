"""The warehouse's tables, as Alembic revisions: one reversible revision per schema change.

``village_reports.warehouse.upgrade`` runs them (``python -m village_reports upgrade``,
``prepare_warehouse``, ``make run``). Views and dimension rows are not here: they are
re-created from ``sql/views.sql`` and the data files after every upgrade.
"""
