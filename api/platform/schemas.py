"""What the platform API reads and writes."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from ninja import Field, Schema

NoNul = r"^[^\x00]*$"


class CompanyOut(Schema):
    id: int
    name: str
    business_registration_number: str
    schema_name: str
    status: str
    status_reason: str
    plan: str
    user_count: int
    domains: list[str]
    created_at: dt.datetime


class CompanyPage(Schema):
    items: list[CompanyOut]
    next_cursor: str | None


class Reason(Schema):
    reason: str = Field(min_length=1, max_length=2000, pattern=NoNul)


class ApplicationOut(Schema):
    id: uuid.UUID
    company_name: str
    business_registration_number: str
    subdomain: str
    contact_email: str
    status: str
    submitted_at: dt.datetime
    decided_at: dt.datetime | None
    rejection_reason: str
    company_id: int | None


class ApplicationPage(Schema):
    items: list[ApplicationOut]
    next_cursor: str | None


class OperationStart(Schema):
    kind: Literal["verify", "backup", "deploy"]
    # Backups only: one company's schema (empty: the whole database).
    company_schema: str = Field(default="", max_length=63, pattern=r"^[a-z0-9_]*$")


class OperationOut(Schema):
    id: int
    kind: str
    status: str
    requested_by: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    steps_done: int
    steps_total: int
    percent: int
    finished: bool
    log: str
    error: str
    schemas: dict[str, Any] | None
