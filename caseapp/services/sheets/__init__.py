"""Work on many cases at once: a case list as CSV or XLSX (`exports`), and bulk actions on
the case list with their undo (`bulk`).

Above the workflow and the deadlines (it writes the statuses' words and opens cases the way
the pages do), below ops. openpyxl is imported where a workbook is made, never at start-up.
"""
