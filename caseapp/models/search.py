"""The search index: one row per thing a person looks for (a case, a client, a note, a POA
version, a submission's Amazon reference, a mail), kept current in the same unit of work as
the change of its text.

Each row holds the words to find it by: `title` and `codes` (ASINs, seller IDs, Amazon
references: matched as words, by prefix, and as any part of three characters or more) and
`body` (prose: notice text, notes, POA sections, mail). Full-text search runs over them:

- PostgreSQL: a GIN index over a tsvector of title and codes (the `simple` configuration: codes
  are not words to stem) and the body (`english`, so "suspended" finds "suspension"), and a
  pg_trgm GIN index over the codes for a part of an ASIN or reference.
- SQLite: an FTS5 table over the three (unicode61, prefix indexes) and a second one over the
  codes with the trigram tokenizer, both external-content tables that triggers keep in step.

Those structures are made by `create_fulltext` (after the table, by `create_all` and by the
migration) and are not in the ORM's metadata, so `flask db check` leaves them alone
(migrations/env.py `include_object`).

The rows are kept by two session hooks: each flush notes which searched rows it changed
(`_collect`), and just before the transaction commits they are indexed as they then are
(`_write_pending`), in that transaction: whatever changed a searched text (a page, the API,
an import, a bulk action), the index changes with it, and a rollback leaves it as it was.
A search inside an open transaction sees the index as of its start. Statements that bypass
the ORM (bench/seed.py's bulk inserts) call `rebuild`.
"""
from __future__ import annotations

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint, delete, event, insert, inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Session, mapped_column

from caseapp.extensions import db
from caseapp.models.case import Case, CaseAsin, Note
from caseapp.models.client import Client
from caseapp.models.inbound import InboundMessage
from caseapp.models.poa import PoaDraft
from caseapp.models.submission import Submission

BODY_LIMIT = 50_000  # characters of prose indexed per row: beyond any real POA or notice
KINDS = ("case", "client", "note", "poa", "submission", "email")
SKIPPED_STATUSES = ("refused", "discarded")  # mail nobody filed or kept: not searched

# The one tsvector of a row: titles and codes unstemmed, prose by its English stems.
PG_VECTOR = ("(setweight(to_tsvector('simple'::regconfig, coalesce(title, '') || ' ' || coalesce(codes, '')), 'A')"
             " || setweight(to_tsvector('english'::regconfig, coalesce(body, '')), 'B'))")
# Stored beside the row (a generated column the ORM does not map), so ranking a match reads
# its vector instead of computing it again from the text.
PG_VECTOR_COLUMN = "search_vector"
PG_DDL = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    f"ALTER TABLE search_documents ADD COLUMN IF NOT EXISTS {PG_VECTOR_COLUMN} tsvector "
    f"GENERATED ALWAYS AS ({PG_VECTOR}) STORED",
    f"CREATE INDEX IF NOT EXISTS ix_search_documents_fts ON search_documents USING gin ({PG_VECTOR_COLUMN})",
    "CREATE INDEX IF NOT EXISTS ix_search_documents_trgm ON search_documents USING gin (codes gin_trgm_ops)",
)
SQLITE_DDL = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5(title, codes, body, content='search_documents', "
    "content_rowid='id', tokenize='porter unicode61 remove_diacritics 2', prefix='2 3')",
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_fts_codes USING fts5(codes, content='search_documents', "
    "content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS search_fts_insert AFTER INSERT ON search_documents BEGIN "
    "INSERT INTO search_fts(rowid, title, codes, body) VALUES (new.id, new.title, new.codes, new.body); "
    "INSERT INTO search_fts_codes(rowid, codes) VALUES (new.id, new.codes); END",
    "CREATE TRIGGER IF NOT EXISTS search_fts_delete AFTER DELETE ON search_documents BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, title, codes, body) VALUES ('delete', old.id, old.title, old.codes, old.body); "
    "INSERT INTO search_fts_codes(search_fts_codes, rowid, codes) VALUES ('delete', old.id, old.codes); END",
    "CREATE TRIGGER IF NOT EXISTS search_fts_update AFTER UPDATE ON search_documents BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, title, codes, body) VALUES ('delete', old.id, old.title, old.codes, old.body); "
    "INSERT INTO search_fts_codes(search_fts_codes, rowid, codes) VALUES ('delete', old.id, old.codes); "
    "INSERT INTO search_fts(rowid, title, codes, body) VALUES (new.id, new.title, new.codes, new.body); "
    "INSERT INTO search_fts_codes(rowid, codes) VALUES (new.id, new.codes); END",
)
# Names of what create_fulltext makes, for migrations/env.py to leave out of `db check` and the
# backup to leave out of an archive (it is derived from search_documents and made again).
FULLTEXT_NAMES = ("search_fts", "search_vector", "ix_search_documents_fts", "ix_search_documents_trgm")
SQLITE_DROP = ("DROP TRIGGER IF EXISTS search_fts_insert", "DROP TRIGGER IF EXISTS search_fts_delete",
               "DROP TRIGGER IF EXISTS search_fts_update", "DROP TABLE IF EXISTS search_fts",
               "DROP TABLE IF EXISTS search_fts_codes")
PG_EXTENSIONS = ("pg_trgm",)


class SearchDocument(db.Model):
    __tablename__ = "search_documents"
    __table_args__ = (
        UniqueConstraint("kind", "object_id", name="uq_search_documents_kind_object_id"),
        Index("ix_search_documents_agency_id_kind", "agency_id", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(Integer)  # no foreign key: rows follow their source's life
    kind: Mapped[str] = mapped_column(String(20))
    object_id: Mapped[int] = mapped_column(Integer)
    case_id: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(500), default="")
    codes: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")


def create_fulltext(connection: Connection) -> None:
    for statement in PG_DDL if connection.dialect.name == "postgresql" else SQLITE_DDL:
        connection.exec_driver_sql(statement)


def refill_fulltext(connection: Connection) -> None:
    """Make the full-text structures again from search_documents (after a restore, whose
    archive holds the rows but not what is derived from them)."""
    create_fulltext(connection)
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("INSERT INTO search_fts(search_fts) VALUES ('rebuild')")
        connection.exec_driver_sql("INSERT INTO search_fts_codes(search_fts_codes) VALUES ('rebuild')")


@event.listens_for(SearchDocument.__table__, "after_create")
def _after_create(_table, connection, **_kw) -> None:
    create_fulltext(connection)


# ---- what each source row is as a document ------------------------------------------------

def _join(*parts: str | None) -> str:
    return "\n".join(p for p in parts if p)[:BODY_LIMIT]


def _lines(items) -> str:
    return "\n".join(str(item) for item in items or [] if item)


def _documents(connection: Connection, kind: str, ids: list[int]) -> list[dict]:
    """The documents of these rows of one kind, read as stored after the flush (a row gone or
    no longer searched has none)."""
    if kind == "case":
        asins: dict[int, list[str]] = {}
        for case_id, asin in connection.execute(select(CaseAsin.case_id, CaseAsin.asin)
                                                .where(CaseAsin.case_id.in_(ids)).order_by(CaseAsin.position)):
            asins.setdefault(case_id, []).append(asin)
        rows = connection.execute(select(Case.id, Case.agency_id, Case.title, Case.reference, Case.amazon_notice)
                                  .where(Case.id.in_(ids)))
        return [dict(kind=kind, object_id=r.id, agency_id=r.agency_id, case_id=r.id, title=r.title or "",
                     codes=" ".join(asins.get(r.id, []) + ([r.reference] if r.reference else [])),
                     body=_join(r.amazon_notice)) for r in rows]
    if kind == "client":
        rows = connection.execute(select(Client).where(Client.id.in_(ids)))
        return [dict(kind=kind, object_id=r.id, agency_id=r.agency_id, case_id=None, title=r.name or "",
                     codes=r.seller_id or "", body=_join(r.contact_name, r.contact_email, r.notes)) for r in rows]
    if kind == "note":
        rows = connection.execute(select(Note.id, Note.case_id, Note.body, Case.agency_id)
                                  .join(Case, Case.id == Note.case_id).where(Note.id.in_(ids)))
        return [dict(kind=kind, object_id=r.id, agency_id=r.agency_id, case_id=r.case_id, title="Note",
                     codes="", body=_join(r.body)) for r in rows]
    if kind == "poa":
        rows = connection.execute(select(PoaDraft, Case.agency_id).join(Case, Case.id == PoaDraft.case_id)
                                  .where(PoaDraft.id.in_(ids)))
        return [dict(kind=kind, object_id=r.id, agency_id=r.agency_id, case_id=r.case_id,
                     title=f"POA version {r.version}", codes="",
                     body=_join(r.subject, r.introduction, r.root_cause, _lines(r.corrective_actions),
                                _lines(r.preventive_measures), r.closure)) for r in rows]
    if kind == "submission":
        rows = connection.execute(select(Submission.id, Submission.case_id, Submission.amazon_reference,
                                         Case.agency_id).join(Case, Case.id == Submission.case_id)
                                  .where(Submission.id.in_(ids), Submission.withdrawn_at.is_(None),
                                         Submission.amazon_reference != ""))
        return [dict(kind=kind, object_id=r.id, agency_id=r.agency_id, case_id=r.case_id, title="Submission",
                     codes=r.amazon_reference, body="") for r in rows]
    rows = connection.execute(select(InboundMessage.id, InboundMessage.agency_id, InboundMessage.case_id,
                                     InboundMessage.subject, InboundMessage.from_address, InboundMessage.body_text)
                              .where(InboundMessage.id.in_(ids), InboundMessage.agency_id.is_not(None),
                                     InboundMessage.status.not_in(SKIPPED_STATUSES)))
    return [dict(kind="email", object_id=r.id, agency_id=r.agency_id, case_id=r.case_id, title=r.subject or "",
                 codes="", body=_join(r.from_address, r.body_text)) for r in rows]


def write(connection: Connection, kind: str, ids: list[int]) -> None:
    """Make the index say what these rows say now (two or three statements for any number)."""
    ids = sorted(set(ids))
    for start in range(0, len(ids), 500):
        batch = ids[start:start + 500]
        connection.execute(delete(SearchDocument).where(SearchDocument.kind == kind,
                                                        SearchDocument.object_id.in_(batch)))
        docs = _documents(connection, kind, batch)
        if docs:
            connection.execute(insert(SearchDocument), docs)


def rebuild(connection: Connection, batch: int = 2000) -> int:
    """Index every searched row again (after bulk inserts that bypass the ORM, or to repair).
    Returns the number of rows indexed."""
    sources = {"case": Case.id, "client": Client.id, "note": Note.id, "poa": PoaDraft.id,
               "submission": Submission.id, "email": InboundMessage.id}
    connection.execute(delete(SearchDocument))
    total = 0
    for kind, column in sources.items():
        last = 0
        while True:
            ids = list(connection.scalars(select(column).where(column > last).order_by(column).limit(batch)))
            if not ids:
                break
            write(connection, kind, ids)
            total += len(ids)
            last = ids[-1]
    return total


# ---- the hooks that keep it ----------------------------------------------------------------

PENDING = "search_pending"  # session.info: kind -> ids changed since the last commit

WATCHED = {
    Case: ("case", ("title", "reference", "amazon_notice", "asin_rows")),
    Client: ("client", ("name", "seller_id", "contact_name", "contact_email", "notes")),
    Note: ("note", ("body",)),
    PoaDraft: ("poa", ("subject", "introduction", "root_cause", "corrective_actions",
                       "preventive_measures", "closure")),
    Submission: ("submission", ("amazon_reference", "withdrawn_at")),
    InboundMessage: ("email", ("subject", "body_text", "case_id", "agency_id", "status")),
}


def _changed(obj, fields: tuple[str, ...]) -> bool:
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in fields)


@event.listens_for(Session, "after_flush")
def _collect(session: Session, _context) -> None:
    """Note what each flush changed of the searched rows; `_write_pending` indexes it at commit."""
    pending: dict[str, set[int]] = session.info.setdefault(PENDING, {})
    dirty = session.dirty  # a new set each time it is asked for: asked once, not once per row
    for obj in list(session.new) + list(dirty) + list(session.deleted):
        if isinstance(obj, CaseAsin):
            pending.setdefault("case", set()).add(obj.case_id)
            continue
        watched = WATCHED.get(type(obj))
        if watched is None:
            continue
        kind, fields = watched
        if obj in dirty and not _changed(obj, fields):
            continue
        if obj.id is not None:
            pending.setdefault(kind, set()).add(obj.id)


@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    """Index what the transaction changed, in it, just before it commits: one batch per kind
    of row however many flushes and rows there were (an import of 10,000 cases included)."""
    session.flush()  # the last changes, which `_collect` notes
    pending = session.info.pop(PENDING, None)
    if pending:
        connection = session.connection()
        for kind, ids in pending.items():
            write(connection, kind, list(ids))


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, previous_transaction) -> None:
    if previous_transaction.parent is None:  # the whole transaction: nothing of it stays
        session.info.pop(PENDING, None)
