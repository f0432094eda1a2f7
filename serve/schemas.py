"""Request and response bodies: one schema per use (XCreate, XPublic, XsPublic(data, next_cursor))."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["AppealCreate", "AppealDecision", "AppealPublic", "ApiKeyCreate", "ApiKeyCreated", "ApiKeyPublic",
           "AuditPublic", "BlacklistExport", "BlacklistPublic", "BlacklistsPublic", "ChainVerify", "DecisionCreate",
           "DecisionResult", "EvidencePublic", "FlagCreate", "FlagPublic", "FlagsPublic", "GalleryEntryPublic", "GalleryPublic",
           "IngestRecording", "InclusionProof", "ConsistencyProof",
           "IngestResult", "PlatformAccountCreate", "IdentityCreate", "RescanCreate", "RescanPublic", "SanctionPublic", "StreamCreate",
           "StreamPublic", "StreamsPublic", "StreamerCreate", "StreamerHistory", "StreamerPublic"]


DbId = Annotated[int, Field(ge=1, le=2_147_483_647)]  # 32-bit ids in the database


MAX_STREAM_S = 1e10  # seconds into a recording or stream (~317 years): BIGINT milliseconds hold far more


def _plain_json(value, where: str = "") -> None:
    """Raise ValueError for what JSON text may carry but no column or response can: a number that is
    not finite (NaN, Infinity, 1e400) and a string with a lone surrogate ("\\ud800"), at any depth
    (free-form fields such as a listing included)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where or 'value'}: numbers must be finite (got {value})")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"{where or 'value'}: invalid Unicode (a lone surrogate)") from None
    elif isinstance(value, dict):
        for k, v in value.items():
            _plain_json(k, where)
            _plain_json(v, f"{where}.{k}" if where else str(k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _plain_json(v, f"{where}[{i}]")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _finite_and_valid_unicode(cls, data):
        _plain_json(data)
        return data


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def _check_label(v: str) -> str:
    from claims.taxonomy import LABELS  # here, not at import: the claims package loads its classifier

    if v not in LABELS:
        raise ValueError(f"unknown label {v!r}; valid labels: {', '.join(sorted(LABELS))}")
    return v


# --- keys ---
class ApiKeyCreate(_In):
    name: str = Field(min_length=1, max_length=200)
    role: Literal["moderator", "regulator", "admin", "ingest"]


class ApiKeyPublic(_Out):
    id: int
    name: str
    role: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyPublic):
    token: str = Field(description="shown once; only its SHA-256 is stored")


# --- streamers and streams ---
class PlatformAccountCreate(_In):
    platform: str = Field(min_length=1, max_length=64)
    account_id: str = Field(min_length=1, max_length=200)
    handle: str | None = Field(default=None, max_length=200)


class IdentityCreate(_In):
    kind: str = Field(min_length=1, max_length=32, description="e.g. id_doc_sha256, phone_sha256, face_id")
    value: str = Field(min_length=1, max_length=200, description="a hash, never the raw document number")
    note: str | None = Field(default=None, max_length=2000)


class StreamerCreate(_In):
    display_name: str = Field(min_length=1, max_length=200)
    accounts: list[PlatformAccountCreate] = Field(default=[], max_length=50)


class PlatformAccountPublic(_Out):
    platform: str
    account_id: str
    handle: str | None


class IdentityPublic(_Out):
    kind: str
    value: str


class StreamerPublic(_Out):
    id: int
    display_name: str
    status: str
    created_at: datetime
    accounts: list[PlatformAccountPublic]
    identities: list[IdentityPublic]


class SanctionPublic(_Out):
    id: int
    level: str
    reason: str
    flag_id: int | None
    created_at: datetime
    ends_at: datetime | None
    lifted_at: datetime | None


class StreamCreate(_In):
    url: str = Field(min_length=1, max_length=2000)
    platform: str = Field(min_length=1, max_length=64)
    streamer_id: DbId | None = None
    listing: dict | None = Field(default=None, description="the registered product listing being sold")


class StreamPublic(_Out):
    id: int
    url: str
    platform: str
    streamer_id: int | None
    listing: dict | None
    monitoring: str
    created_at: datetime


class StreamsPublic(BaseModel):
    data: list[StreamPublic]
    next_cursor: str | None


# --- flags ---
class FlagCreate(_In):
    """A flag carrying its own fields (live detectors, vision) rather than pointing at a finding."""

    label: str
    t0: float = Field(ge=0, le=MAX_STREAM_S)
    t1: float = Field(ge=0, le=MAX_STREAM_S)
    score: float = Field(ge=0, le=1)
    evidence: str = Field(max_length=10_000)
    segment_text: str = Field(default="", max_length=10_000)
    decided_by: str = Field(min_length=1, max_length=200)
    severity: Literal["high", "medium", "low"] | None = Field(default=None, description="default: the label's")
    stream_id: DbId | None = None
    recording_id: DbId | None = None
    clip_path: str | None = Field(default=None, max_length=4096)
    model_ids: dict[str, str] = Field(default={})

    _label = field_validator("label")(classmethod(lambda cls, v: _check_label(v)))


class FlagPublic(_Out):
    id: int
    finding_id: int | None
    recording_id: int | None
    stream_id: int | None
    streamer_id: int | None
    platform: str | None
    label: str
    t0_ms: int
    t1_ms: int
    score: float
    evidence: str
    segment_text: str
    decided_by: str
    legal_basis: str
    severity: str
    model_ids: dict
    clip_path: str | None
    status: str
    lease_expires_at: datetime | None
    created_at: datetime
    decided_at: datetime | None


class FlagsPublic(BaseModel):
    data: list[FlagPublic]
    next_cursor: str | None


class IngestRecording(_In):
    recording_id: DbId | None = None
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    stream_id: DbId | None = None
    clip_path: str | None = Field(default=None, max_length=4096)


class IngestResult(BaseModel):
    created: list[int]
    existing: int
    attached: list[int] = Field(default=[], description="existing open flags given this stream (and clip)")


class DecisionCreate(_In):
    decision: Literal["confirm", "dismiss"]
    reason: str = Field(min_length=1, max_length=5000)


class DecisionResult(BaseModel):
    flag: FlagPublic
    sanctions: list[SanctionPublic]
    blacklist_entry_id: int | None
    evidence_record_id: int | None


# --- blacklist ---
class AppealPublic(_Out):
    id: int
    entry_id: int
    statement: str
    filed_by: str
    filed_at: datetime
    status: str
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None


class BlacklistPublic(_Out):
    id: int
    streamer_id: int
    facts: str
    legal_basis: str
    flag_ids: list[int]
    evidence_record_ids: list[int]
    starts_at: datetime
    duration_days: int | None
    ends_at: datetime | None
    appeal_route: str
    status: str
    lifted_at: datetime | None
    lift_reason: str | None
    retain_until: datetime


class BlacklistsPublic(BaseModel):
    data: list[BlacklistPublic]
    next_since: int = Field(description="pass as ?since= to get only what changed after this page")


class BlacklistExport(BaseModel):
    data: list[BlacklistPublic]
    next_since: int
    chain_head: str = Field(description="record_hash of the newest evidence record; verify what you received")
    chain_length: int
    exported_at: datetime
    tree_head: dict = Field(description="signed head of the evidence transparency log (tree_size, root_hash, "
                                        "timestamp, Ed25519 signature): keep it, and check later logs against "
                                        "it with `liveguard evidence verify --head`")


class InclusionProof(BaseModel):
    seq: int
    leaf_index: int
    tree_size: int
    root_hash: str
    leaf: str = Field(description="the canonical JSON the leaf hash is taken over")
    audit_path: list[str]


class ConsistencyProof(BaseModel):
    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str]


class AppealCreate(_In):
    statement: str = Field(min_length=1, max_length=20_000)
    filed_by: str = Field(min_length=1, max_length=200, description="who appeals (the streamer or a representative)")


class AppealDecision(_In):
    decision: Literal["grant", "reject"]
    reason: str = Field(min_length=1, max_length=5000)


# --- evidence, audit ---
class EvidencePublic(_Out):
    id: int
    seq: int
    flag_id: int
    package_sha256: str
    prev_hash: str
    record_hash: str
    created_at: datetime
    manifest: dict


class ChainVerify(BaseModel):
    ok: bool
    checked: int
    head: str
    first_broken: int | None = Field(description="seq of the first record that fails")
    problem: str | None


class AuditPublic(_Out):
    id: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: int | None
    details: dict


class StreamerHistory(BaseModel):
    streamer: StreamerPublic
    sanctions: list[SanctionPublic]
    blacklist: list[BlacklistPublic]
    confirmed_flags: list[FlagPublic]


# --- re-scans ---
class RescanCreate(_In):
    paths: list[str] = Field(min_length=1, max_length=1000, description="files or directories inside the roots")
    stream_id: DbId | None = Field(default=None, description="attach the flags to this stream")


class RescanPublic(_Out):
    id: int
    status: str
    total: int
    done: int
    results: list[dict]
    error: str | None
    created_by: str
    created_at: datetime
    finished_at: datetime | None


# --- gallery (protected people); prints never leave the server ---
class GalleryEntryPublic(BaseModel):
    name: str
    kind: Literal["protected", "blacklisted"]
    face_prints: int = Field(description="number of face prints (photos) enrolled")
    voice_prints: int = Field(description="number of voice prints enrolled")
    authorised_accounts: list[str]
    added_at: str


class GalleryPublic(BaseModel):
    data: list[GalleryEntryPublic]
    count: int
