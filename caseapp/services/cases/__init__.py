"""Clients and their cases: the records a consultant works on, with their notes and timeline.

- `clients`: the agency's seller clients.
- `records`: cases (create, edit, list with filters and keyset pages, counts, the
  "awaiting Amazon" list), notes, and the reach of each person (tenancy: another agency's
  case is a NotFound).
- `timeline`: the entries every change of a case leaves (`timeline.record`).
- `imports`: clients and cases from a CSV or XLSX spreadsheet, previewed row by row and
  applied all or nothing (`imports.preview`, `imports.import_file`).

A case's status is not changed here: that is the appeals package's workflow, above this one.
"""
from caseapp.services.cases import imports, timeline
from caseapp.services.cases.clients import (
    client_choices, create_client, delete_client, get_client, list_clients, update_client,
)
from caseapp.services.cases.records import (
    CaseFilters, add_note, awaiting_amazon, create_case, delete_note, edit_note, get_case,
    get_case_child, list_cases, status_counts, timeline_page, update_case,
)

__all__ = [
    "CaseFilters", "add_note", "imports", "awaiting_amazon", "client_choices", "create_case", "create_client",
    "delete_client", "delete_note", "edit_note", "get_case", "get_case_child", "get_client", "list_cases",
    "list_clients", "status_counts", "timeline", "timeline_page", "update_case", "update_client",
]
