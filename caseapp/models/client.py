"""Seller clients of an agency."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from caseapp.extensions import db
from caseapp.models.types import UTCDateTime, utcnow

MARKETPLACES = (
    "US", "CA", "MX", "BR", "UK", "DE", "FR", "IT", "ES", "NL", "SE", "PL", "BE",
    "TR", "AE", "SA", "EG", "IN", "JP", "AU", "SG",
)


class Client(db.Model):
    __tablename__ = "clients"
    __table_args__ = (Index("ix_clients_agency_id_name", "agency_id", "name"),
                      Index("ix_clients_agency_id_seller_id", "agency_id", "seller_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    name: Mapped[str] = mapped_column(String(200))
    seller_id: Mapped[str] = mapped_column(String(40), default="")
    marketplace: Mapped[str] = mapped_column(String(2), default="US")
    contact_name: Mapped[str] = mapped_column(String(120), default="")
    contact_email: Mapped[str] = mapped_column(String(254), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<Client {self.id} {self.name!r}>"
