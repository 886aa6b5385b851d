"""Search everywhere: the agency's cases, clients, notes, POA versions, Amazon references and
filed mail, best match first, each with the passage that matched (caseapp/models/search.py
keeps the index).

A query is up to MAX_TERMS words; every word must match, a word also matches as the start of
a longer one ("suspen" finds "suspended"). A query that looks like a code (letters and digits
or a dash, three characters or more, one word) also finds any part of an ASIN, seller ID or
Amazon reference ("XJ8C8" finds B07XJ8C8F5), and such a match ranks first. Another agency's
rows are never read.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import bindparam, func, literal, literal_column, select, text
from sqlalchemy import case as sql_case

from caseapp.core.parsing import parse_id
from caseapp.extensions import db
from caseapp.models import Case, Client, User
from caseapp.models.search import PG_VECTOR_COLUMN, SearchDocument

MAX_TERMS = 8
MAX_QUERY = 200
LIMIT = 25
WORD_RE = re.compile(r"\w+", re.UNICODE)
CASE_NUMBER_RE = re.compile(r"^\s*(?:case\s*)?#?\s*(\d{1,12})\s*$", re.IGNORECASE)
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{2,59}$")
START, STOP = "\x02", "\x03"  # the matched words in a snippet (the page marks them)
SNIPPET_WORDS = 18
CANDIDATES = 1000  # the newest matches ranked: a word in every notice costs what a rare one does


@dataclass
class Hit:
    kind: str
    object_id: int
    case_id: int | None
    title: str
    snippet: str  # plain text; START/STOP around the matched words
    case_title: str = ""
    client_name: str = ""

    @property
    def plain_snippet(self) -> str:
        return self.snippet.replace(START, "").replace(STOP, "")

    @property
    def heading(self) -> str:
        if self.kind in ("case", "client", "email"):
            return self.title or "(no subject)"
        return f"{self.title} · {self.case_title}" if self.case_title else self.title


def terms(query: str) -> list[str]:
    return WORD_RE.findall(query[:MAX_QUERY])[:MAX_TERMS]


def _code(query: str) -> str:
    query = query.strip()
    return query.upper() if CODE_RE.match(query) and any(c.isdigit() for c in query) else ""


def search(actor: User, query: str, limit: int = LIMIT) -> list[Hit]:
    words, code = terms(query), _code(query)
    if not words:
        return []
    limit = max(1, min(limit, 50))
    if db.session.get_bind().dialect.name == "postgresql":
        rows = _postgresql(actor.agency_id, words, code, limit)
    else:
        rows = _sqlite(actor.agency_id, words, code, limit)
    hits = [Hit(r.kind, r.object_id, r.case_id, r.title, _snippet(r)) for r in rows]
    numbered = _by_number(actor, query)
    if numbered is not None:
        hits = [numbered] + [h for h in hits if not (h.kind == "case" and h.case_id == numbered.case_id)]
    _describe(actor, hits[:limit])
    return hits[:limit]


def _by_number(actor: User, query: str) -> Hit | None:
    """"1234", "#1234" or "case 1234": the agency's case of that number, first."""
    match = CASE_NUMBER_RE.match(query)
    number = parse_id(match.group(1)) if match else None
    if number is None:
        return None
    row = db.session.execute(select(Case.id, Case.title).where(
        Case.agency_id == actor.agency_id, Case.id == number)).first()
    return Hit("case", row.id, row.id, row.title, f"Case #{row.id}") if row else None


def jump_target(query: str, hits: list[Hit]) -> Hit | None:
    """The hit the nav's quick-jump box goes straight to: the only one, or the case of that
    number, or the one whose code is exactly what was typed; else None (the results page)."""
    if len(hits) == 1:
        return hits[0]
    code = _code(query) or query.strip().upper()
    exact = [h for h in hits if code and code in h.plain_snippet.upper().split()]
    if CASE_NUMBER_RE.match(query) and hits and hits[0].kind == "case":
        return hits[0]
    return exact[0] if len(exact) == 1 else None


def _snippet(row) -> str:
    snippet = (row.snippet or "").strip()
    if START in snippet or not row.codes:
        return snippet
    return row.codes  # the match was in the codes: show them


def _postgresql(agency_id: int, words: list[str], code: str, limit: int):
    # Each word as itself (titles and codes are indexed unstemmed: "beauty") or by its English
    # stem (prose: "deactivated" finds "deactivation"), as a word or the start of one; every
    # word must match.
    query = None
    params: dict[str, str] = {}
    for i, word in enumerate(words):
        params[f"w{i}"] = f"{word}:*"
        either = func.to_tsquery(literal_column("'simple'::regconfig"), bindparam(f"w{i}")).op("||")(
            func.to_tsquery(literal_column("'english'::regconfig"), bindparam(f"w{i}")))
        query = either if query is None else query.op("&&")(either)
    vector = literal_column(PG_VECTOR_COLUMN)
    found = vector.op("@@")(query)
    if code:
        # Any part of a code (pg_trgm's index; 3 characters or more), ranked above words.
        like = SearchDocument.codes.ilike(bindparam("code_like"), escape="\\")
        found = found | like
        params["code_like"] = f"%{_escape_like(code)}%"
    # The newest CANDIDATES matches (every id the indexes find, then the newest), ranked; then
    # the snippets of the rows shown only. A word in every notice costs no more than a rare one.
    matching = (select(SearchDocument.id).where(SearchDocument.agency_id == agency_id, found)
                .cte("matching").prefix_with("MATERIALIZED", dialect="postgresql"))
    candidates = select(matching.c.id).order_by(matching.c.id.desc()).limit(CANDIDATES).subquery()
    rank = func.ts_rank(vector, query)
    if code:
        rank = rank + sql_case((SearchDocument.codes.ilike(bindparam("code_like"), escape="\\"), 10), else_=0)
    best = (select(SearchDocument.id, rank.label("rank")).join(candidates, candidates.c.id == SearchDocument.id)
            .order_by(literal_column("rank").desc(), SearchDocument.id.desc()).limit(limit).subquery())
    options = (f"StartSel={START}, StopSel={STOP}, MaxWords={SNIPPET_WORDS}, MinWords=6, MaxFragments=1")
    snippet = func.ts_headline(literal_column("'english'::regconfig"), func.left(SearchDocument.body, 20000),
                               query, literal(options))
    stmt = (select(SearchDocument.kind, SearchDocument.object_id, SearchDocument.case_id, SearchDocument.title,
                   SearchDocument.codes, snippet.label("snippet"))
            .join(best, best.c.id == SearchDocument.id)
            .order_by(best.c.rank.desc(), SearchDocument.id.desc()))
    return db.session.execute(stmt, params).all()


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_SQLITE_COLUMNS = "d.id, d.kind, d.object_id, d.case_id, d.title, d.codes"


def _sqlite(agency_id: int, words: list[str], code: str, limit: int):
    match = " ".join(f'"{word}"*' for word in words)
    found: list[int] = []
    if code:
        # The trigram table: any part of a code of three characters or more, ranked first.
        found += db.session.scalars(text(
            "SELECT d.id FROM search_fts_codes JOIN search_documents d ON d.id = search_fts_codes.rowid "
            "WHERE search_fts_codes MATCH :code AND d.agency_id = :agency "
            "ORDER BY search_fts_codes.rowid DESC LIMIT :limit"),
            {"code": f'"{code}"', "agency": agency_id, "limit": limit}).all()
    # The newest CANDIDATES matches, ranked by bm25; the snippets of the rows shown only.
    for row_id in db.session.scalars(text(
            "SELECT search_fts.rowid FROM search_fts WHERE search_fts MATCH :match AND search_fts.rowid IN ("
            "  SELECT f.rowid FROM search_fts AS f JOIN search_documents AS d2 ON d2.id = f.rowid"
            "  WHERE f.search_fts MATCH :match AND d2.agency_id = :agency ORDER BY f.rowid DESC LIMIT :candidates)"
            " ORDER BY bm25(search_fts, 10.0, 10.0, 1.0), search_fts.rowid DESC LIMIT :limit"),
            {"match": match, "agency": agency_id, "limit": limit, "candidates": CANDIDATES}):
        if row_id not in found:
            found.append(row_id)
    found = found[:limit]
    if not found:
        return []
    ids = ", ".join(str(int(i)) for i in found)
    snippets = dict(db.session.execute(text(
        f"SELECT search_fts.rowid, snippet(search_fts, 2, '{START}', '{STOP}', '…', {SNIPPET_WORDS}) "
        f"FROM search_fts WHERE search_fts MATCH :match AND search_fts.rowid IN ({ids})"), {"match": match}).all())
    rows = {r.id: r for r in db.session.execute(text(
        f"SELECT {_SQLITE_COLUMNS} FROM search_documents AS d WHERE d.id IN ({ids}) AND d.agency_id = :agency"),
        {"agency": agency_id})}
    return [_Row(rows[i], snippets.get(i, "")) for i in found if i in rows]


class _Row:
    """A search_documents row with its snippet."""

    def __init__(self, row, snippet: str):
        self.kind, self.object_id, self.case_id = row.kind, row.object_id, row.case_id
        self.title, self.codes, self.snippet = row.title, row.codes, snippet


def _describe(actor: User, hits: list[Hit]) -> None:
    """The case title and client name of each hit (one statement)."""
    case_ids = {h.case_id for h in hits if h.case_id}
    if not case_ids:
        return
    names = {row.id: row for row in db.session.execute(
        select(Case.id, Case.title, Client.name).join(Client, Client.id == Case.client_id)
        .where(Case.agency_id == actor.agency_id, Case.id.in_(case_ids)))}
    for hit in hits:
        row = names.get(hit.case_id)
        if row is not None:
            hit.case_title, hit.client_name = row.title, row.name
