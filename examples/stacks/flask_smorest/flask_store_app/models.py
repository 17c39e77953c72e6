from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Boolean, Column, DateTime, Float, ForeignKey, Integer, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .db import db

items_tags = Table(
    "items_tags",
    db.metadata,
    Column("item_id", Integer, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", Integer, ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
)


class StoreModel(db.Model):
    __tablename__ = "stores"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True, nullable=False)

    items: Mapped[list[ItemModel]] = relationship(
        back_populates="store", cascade="all, delete-orphan", passive_deletes=True, order_by="ItemModel.id"
    )
    tags: Mapped[list[TagModel]] = relationship(
        back_populates="store", cascade="all, delete-orphan", passive_deletes=True, order_by="TagModel.id"
    )


class ItemModel(db.Model):
    __tablename__ = "items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), nullable=False)
    description: Mapped[str | None] = mapped_column(String(500), nullable=True)
    price: Mapped[float] = mapped_column(Float(precision=2), nullable=False)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), nullable=False, index=True)

    store: Mapped[StoreModel] = relationship(back_populates="items")
    tags: Mapped[list[TagModel]] = relationship(secondary=items_tags, back_populates="items", order_by="TagModel.id")


class TagModel(db.Model):
    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("store_id", "name", name="uq_tags_store_id_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(40), nullable=False)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), nullable=False, index=True)

    store: Mapped[StoreModel] = relationship(back_populates="tags")
    items: Mapped[list[ItemModel]] = relationship(secondary=items_tags, back_populates="tags", order_by="ItemModel.id")


class UserModel(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, nullable=False)
    password: Mapped[str] = mapped_column(String(256), nullable=False)  # a werkzeug password hash
    is_admin: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)


class TokenBlocklist(db.Model):
    """JWT ids revoked by POST /logout; checked on every authenticated request."""

    __tablename__ = "token_blocklist"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    jti: Mapped[str] = mapped_column(String(36), unique=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=lambda: datetime.now(UTC)
    )
