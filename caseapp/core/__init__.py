"""The kernel every package stands on; it knows no feature.

- `transaction`: the unit of work, the one place caseapp commits.
- `urls`: `external_url`, links for mail and feeds from APP_BASE_URL.
- `errors`: the domain errors views turn into messages and statuses.
- `parsing`: numbers, ids, dates and text from outside, read one way everywhere.
- `paging`: offset and keyset pages; `locking`: claiming rows across processes.
- `timezones`, `markdown` (notes, linear in their length), `sqlite` (its settings).
- `workdays`: the agency calendar (working days, public holidays) and business-time clocks.
"""
