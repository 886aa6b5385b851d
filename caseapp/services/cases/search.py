"""Search everywhere: the agency's cases, clients, notes, POA versions, Amazon references and
filed mail, best match first, each with the passage that matched (caseapp/models/search.py
keeps the index).

A query is up to MAX_TERMS words; every word must match, a word also matches as the start of
a longer one ("suspen" finds "suspended"). A query that looks like a code (letters and digits
or a dash, three characters or more, one word) also finds any part of an ASIN, seller ID or
Amazon reference ("XJ8C8" finds B07XJ8C8F5), and such a match ranks first. Another agency's
rows are never read.

Order: PostgreSQL ranks the newest CANDIDATES matches by ts_rank; SQLite lists title and code
matches, then the rest, newest first (FTS5 walks its matches from the newest and stops at the
page). Both cost the same for a word in every row as for a rare one.
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
SNIPPET_SCAN = 20_000  # characters of a row's text a snippet is looked for in
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
    """SQLite: what names the words in its title or codes first, then what has them anywhere,
    newest first within each (FTS5 walks its matches newest first and stops at `limit`:
    bm25 over every match cost 0.4 s for a word in all 100,000 notices)."""
    every = " AND ".join(f'"{word}"*' for word in words)
    found: list[int] = []
    # "+d.agency_id": the agency's index holds every row of a one-agency install; the matches
    # must drive the query, each joined by its id.
    newest = ("SELECT f.rowid FROM {table} AS f JOIN search_documents AS d ON d.id = f.rowid "
              "WHERE f.{table} MATCH :match AND +d.agency_id = :agency ORDER BY f.rowid DESC LIMIT :limit")
    steps = [("search_fts", f"{{title codes}} : ({every})"), ("search_fts", every)]
    if code:
        steps.insert(0, ("search_fts_codes", f'"{code}"'))  # any part of a code, three characters or more
    for table, match in steps:
        for row_id in db.session.scalars(text(newest.format(table=table)),
                                         {"match": match, "agency": agency_id, "limit": limit}):
            if row_id not in found:
                found.append(row_id)
        if len(found) >= limit:
            break
    found = found[:limit]
    if not found:
        return []
    ids = ", ".join(str(int(i)) for i in found)
    rows = {r.id: r for r in db.session.execute(text(
        f"SELECT {_SQLITE_COLUMNS}, substr(d.body, 1, {SNIPPET_SCAN}) AS body FROM search_documents AS d "
        f"WHERE d.id IN ({ids}) AND +d.agency_id = :agency"), {"agency": agency_id})}
    # Snippets made here from the text: FTS5's snippet() loads a common word's whole list of
    # rows for each hit (6 ms a hit for a word in every notice).
    return [_Row(rows[i], snippet_of(rows[i].body, words)) for i in found if i in rows]


def snippet_of(body: str, words: list[str]) -> str:
    """Up to SNIPPET_WORDS words of `body` around the first word that starts with a query
    word, each such word between START and STOP; the body's start when none does (a stemmed
    match). Linear in the text's length."""
    tokens = [(m.start(), m.end()) for m in WORD_RE.finditer(body or "")]
    if not tokens:
        return ""
    wanted = tuple(w.casefold() for w in words)
    hits = [i for i, (a, b) in enumerate(tokens) if body[a:b].casefold().startswith(wanted)]
    first = max(0, (hits[0] if hits else 0) - SNIPPET_WORDS // 3)
    window = tokens[first:first + SNIPPET_WORDS]
    out, position = [], window[0][0]
    for i, (a, b) in enumerate(window, start=first):
        out.append(body[position:a])
        out.append(f"{START}{body[a:b]}{STOP}" if i in hits else body[a:b])
        position = b
    text_ = " ".join("".join(out).split())
    return ("…" if first else "") + text_ + ("…" if first + SNIPPET_WORDS < len(tokens) else "")


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
