"""Catalog rows for generation requests and the files they produced.

Like store.py, every function takes an open Session so the caller decides
what commits together (a request's state change and its event, say).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from alice.daemon.catalog import store
from alice.daemon.catalog.models import (
    REQUEST_STATES,
    Asset,
    GenerationRequest,
    Location,
    Project,
    RequestOutput,
)
from alice.daemon.catalog.store import clean_json, clean_text

IN_FLIGHT = ("recorded", "submitted", "running")


@dataclass(frozen=True)
class OutputRow:
    content_id: str
    path: str
    file_hash: str
    embedded: bool
    asset_id: int | None          # set once the organizer has filed it
    filed_path: str | None        # where the organizer filed it (present copy)


@dataclass(frozen=True)
class RequestRow:
    id: int
    project: str
    provider: str
    model: str
    prompt: str | None
    params: dict[str, Any]
    reference_ids: list[str]
    state: str
    provider_request_id: str | None
    job: dict[str, Any] | None
    estimate_usd: Decimal | None
    cost_usd: Decimal | None
    error: str | None
    created_at: datetime
    updated_at: datetime
    recreated_from: int | None
    outputs: list[OutputRow] = field(default_factory=list)
    record_extra: dict[str, Any] = field(default_factory=dict)   # a re-run's fields for the stamped record

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "project": self.project, "provider": self.provider, "model": self.model,
            "prompt": self.prompt, "params": self.params, "references": self.reference_ids,
            "state": self.state, "provider_request_id": self.provider_request_id,
            "estimate_usd": _money(self.estimate_usd), "cost_usd": _money(self.cost_usd), "error": self.error,
            "created_at": self.created_at.isoformat(), "updated_at": self.updated_at.isoformat(),
            "recreated_from": self.recreated_from,
            "outputs": [{"content_id": o.content_id, "path": o.path, "file_hash": o.file_hash,
                         "embedded": o.embedded, "asset_id": o.asset_id, "filed_path": o.filed_path}
                        for o in self.outputs],
        }


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def record_request(s: Session, *, project_id: int, provider: str, model: str, prompt: str | None,
                   params: dict[str, Any], reference_ids: list[str], estimate_usd: Decimal | None,
                   state: str = "recorded", error: str | None = None,
                   recreated_from: int | None = None, lease_s: float | None = None,
                   record_extra: dict[str, Any] | None = None) -> int:
    """Insert a request row (leased to the caller for `lease_s`); return its id."""
    _check_state(state)
    row = GenerationRequest(
        project_id=project_id, provider=provider, model=model, prompt=clean_text(prompt),
        params=clean_json(params), reference_ids=clean_json(list(reference_ids)), state=state,
        estimate_usd=estimate_usd, error=clean_text(error), recreated_from=recreated_from,
        record_extra=clean_json(dict(record_extra or {})),
        lease_until=None if lease_s is None else func.now() + timedelta(seconds=lease_s),
    )
    s.add(row)
    s.flush()
    return row.id


def update_request(s: Session, request_id: int, *, state: str | None = None, **fields: Any) -> None:
    """Change a request's state and/or columns (provider_request_id, job, cost_usd, error)."""
    values: dict[str, Any] = {"updated_at": func.now()}
    if state is not None:
        _check_state(state)
        values["state"] = state
    for key, value in fields.items():
        if key not in ("provider_request_id", "job", "cost_usd", "error"):
            raise ValueError(f"update_request cannot set {key!r}")
        values[key] = clean_json(value) if key == "job" else clean_text(value) if isinstance(value, str) else value
    result = s.execute(update(GenerationRequest).where(GenerationRequest.id == request_id).values(**values))
    if store.rowcount(result) == 0:
        raise LookupError(f"no generation request {request_id}")


def add_output(s: Session, request_id: int, content_id: str, path: str, file_hash: str, embedded: bool) -> None:
    s.add(RequestOutput(request_id=request_id, content_id=content_id, path=clean_text(path),
                        file_hash=file_hash, embedded=embedded))
    s.flush()


def get_request(s: Session, request_id: int) -> RequestRow | None:
    row = s.execute(select(GenerationRequest, Project.name).join(Project, Project.id == GenerationRequest.project_id)
                    .where(GenerationRequest.id == request_id)).first()
    if row is None:
        return None
    r, project = row
    filed = (store.filed_copies(Asset.id, roles=("organized",)).with_only_columns(Location.path)
             .limit(1).scalar_subquery())
    outputs = [OutputRow(o.content_id, o.path, o.file_hash, o.embedded, asset_id, filed_path)
               for o, asset_id, filed_path in s.execute(
                   select(RequestOutput, Asset.id, filed)
                   .outerjoin(Asset, Asset.content_id == RequestOutput.content_id)
                   .where(RequestOutput.request_id == request_id).order_by(RequestOutput.id))]
    return RequestRow(
        id=r.id, project=project, provider=r.provider, model=r.model, prompt=r.prompt, params=r.params,
        reference_ids=list(r.reference_ids), state=r.state, provider_request_id=r.provider_request_id, job=r.job,
        estimate_usd=r.estimate_usd, cost_usd=r.cost_usd, error=r.error, created_at=r.created_at,
        updated_at=r.updated_at, recreated_from=r.recreated_from, outputs=outputs,
        record_extra=dict(r.record_extra or {}),
    )


def request_for_content(s: Session, content_id: str) -> int | None:
    """The first request that produced this content, if alice made it here (a recreation
    with a fixed seed can produce the same content again; the original is the one to name)."""
    return s.execute(select(RequestOutput.request_id).where(RequestOutput.content_id == content_id)
                     .order_by(RequestOutput.id).limit(1)).scalar_one_or_none()


def recent(s: Session, limit: int = 20, project: str | None = None) -> list[RequestRow]:
    """The newest requests, newest first (outputs included)."""
    q = select(GenerationRequest.id).order_by(GenerationRequest.id.desc()).limit(limit)
    if project is not None:
        q = q.join(Project, Project.id == GenerationRequest.project_id).where(Project.name == project)
    return [row for rid in s.execute(q).scalars() if (row := get_request(s, rid)) is not None]


# -- leases: which process finishes a request ---------------------------------------------

def _lapsed() -> Any:
    return (GenerationRequest.lease_until.is_(None)) | (GenerationRequest.lease_until < func.now())


def claim(s: Session, request_id: int, lease_s: float) -> datetime | None:
    """Take over an unfinished request whose lease lapsed. None if it was taken; else,
    when the claim fails, the time the current holder's lease ends."""
    taken = s.execute(update(GenerationRequest)
                      .where(GenerationRequest.id == request_id, GenerationRequest.state.in_(IN_FLIGHT), _lapsed())
                      .values(lease_until=func.now() + timedelta(seconds=lease_s))
                      .returning(GenerationRequest.id)).scalar_one_or_none()
    if taken is not None:
        return None
    return s.execute(select(GenerationRequest.lease_until).where(GenerationRequest.id == request_id)
                     ).scalar_one_or_none()


def renew(s: Session, request_ids: list[int], lease_s: float) -> None:
    if request_ids:
        s.execute(update(GenerationRequest).where(GenerationRequest.id.in_(request_ids),
                                                  GenerationRequest.state.in_(IN_FLIGHT))
                  .values(lease_until=func.now() + timedelta(seconds=lease_s)))


def release(s: Session, request_ids: list[int]) -> None:
    """Let another process take these over at once (this one stops working on them)."""
    if request_ids:
        s.execute(update(GenerationRequest).where(GenerationRequest.id.in_(request_ids))
                  .values(lease_until=None))


def claim_orphans(s: Session, lease_s: float, limit: int = 20) -> list[int]:
    """Claim requests sent but left unfinished by a process that is gone (lease lapsed).
    Only those with a recorded job can be polled again; `recorded` ones may never have been sent."""
    orphans = (select(GenerationRequest.id)
               .where(GenerationRequest.state.in_(("submitted", "running")),
                      GenerationRequest.job.is_not(None), _lapsed())
               .order_by(GenerationRequest.id).limit(limit).with_for_update(skip_locked=True))
    return sorted(s.execute(update(GenerationRequest).where(GenerationRequest.id.in_(orphans.scalar_subquery()))
                            .values(lease_until=func.now() + timedelta(seconds=lease_s))
                            .returning(GenerationRequest.id)).scalars())


def in_flight(s: Session) -> list[int]:
    """Requests sent (or about to be) whose outputs have not been delivered."""
    return list(s.execute(select(GenerationRequest.id).where(GenerationRequest.state.in_(IN_FLIGHT))
                          .order_by(GenerationRequest.id)).scalars())


def _check_state(state: str) -> None:
    if state not in REQUEST_STATES:
        raise ValueError(f"request state must be one of {', '.join(REQUEST_STATES)}, not {state!r}")
