"""Request and response bodies: one schema per use (XCreate, XPublic, XsPublic(data, next_cursor))."""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import BeforeValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["AppealCreate", "AppealDecision", "AppealPublic", "ApiKeyCreate", "ApiKeyCreated", "ApiKeyPublic",
           "AuditPublic", "BlacklistExport", "BlacklistPublic", "BlacklistsPublic", "ChainVerify", "DecisionCreate",
           "DecisionResult", "EvidencePublic", "FlagCreate", "FlagPublic", "FlagsPublic", "GalleryEntryPublic", "GalleryPublic",
           "IngestRecording", "InclusionProof", "ConsistencyProof",
           "IngestResult", "PlatformAccountCreate", "IdentityCreate", "RescanCreate", "RescanPublic", "SanctionPublic", "StreamCreate",
           "StreamPublic", "StreamsPublic", "StreamerCreate", "StreamerHistory", "StreamerPublic"]


def _whole_number(v):
    # lax int would take true and "3"; JSON Schema's integer is a number with no fraction (3.0 too)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and not v.is_integer()):
        raise ValueError("must be a whole number")
    return int(v)


# Numbers as JSON Schema reads them: an integer is a number with no fraction (3.0 too), never true
# or "3" (pydantic's lax mode would take both); a number is never true or "3.5".
DbId = Annotated[int, Field(ge=1, le=2_147_483_647), BeforeValidator(_whole_number)]  # 32-bit ids in the database
Number = Annotated[float, Field(strict=True)]


MAX_STREAM_S = 1e10  # seconds into a recording or stream (~317 years): BIGINT milliseconds hold far more


def _plain_json(value, where: str = "") -> None:
    """Raise ValueError for what JSON text may carry but no column or response can: a number that is
    not finite (NaN, Infinity, 1e400), a string with a lone surrogate ("\\ud800") or a NUL, at any
    depth (free-form fields such as a listing included)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where or 'value'}: numbers must be finite (got {value})")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"{where or 'value'}: invalid Unicode (a lone surrogate)") from None
        if "\x00" in value:  # PostgreSQL text cannot hold it; refused on every database alike
            raise ValueError(f"{where or 'value'}: a NUL character (U+0000) is not allowed")
    elif isinstance(value, dict):
        for k, v in value.items():
            _plain_json(k, where)
            _plain_json(v, f"{where}.{k}" if where else str(k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _plain_json(v, f"{where}[{i}]")


# What the boundary does to strings, said in the schema too so generated clients and conformance
# tools know it: lengths count the string as sent; surrounding Unicode White_Space is then
# stripped, so a required string needs one other character; NUL is refused everywhere.
WHITE_SPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
_WS = "\\t\\n\\u000b\\u000c\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
NO_NUL = "^[^\\u0000]*$"
NOT_BLANK = f"^[^\\u0000]*[^\\u0000{_WS}][^\\u0000]*$"


def add_string_rules(node, stripped: bool = True) -> None:
    """Give every string in a JSON schema node (nested ones too) without a stricter rule the
    pattern the boundary enforces: no NUL, and, where the value is `stripped` (body fields) and
    required non-empty, one character that is not White_Space. Query values are not stripped."""
    if not isinstance(node, dict):
        return
    if node.get("type") == "string" and not {"pattern", "enum", "format"} & node.keys():
        node["pattern"] = NOT_BLANK if stripped and node.get("minLength", 0) >= 1 else NO_NUL
    if isinstance(node.get("additionalProperties"), dict):
        node.setdefault("propertyNames", {"pattern": NO_NUL})  # keys are strings too
    for sub in node.get("anyOf", []) + [node.get("items"), node.get("additionalProperties")]:
        add_string_rules(sub, stripped)


def _string_rules(schema: dict, cls=None) -> None:
    for prop in schema.get("properties", {}).values():
        add_string_rules(prop)
    schema.update(getattr(cls, "_schema_extra", {}))


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, json_schema_extra=_string_rules)

    @model_validator(mode="before")
    @classmethod
    def _finite_and_valid_unicode(cls, data):
        _plain_json(data)
        return data

    @model_validator(mode="after")
    def _strip_strings(self):
        # after the length checks (pydantic's own stripping runs before them, so a 70-character
        # platform with blanks around it would pass a 64-character limit the schema states)
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            if isinstance(value, str):
                stripped = value.strip(WHITE_SPACE)
                if not stripped and any(getattr(m, "min_length", 0) for m in field.metadata):
                    raise ValueError(f"{name}: must not be blank")
                object.__setattr__(self, name, stripped)
        return self


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


def _category_enum(schema: dict) -> None:
    from claims.listing import CATEGORIES  # when the document is built (loads the claims package)

    schema["enum"] = list(CATEGORIES)


RFC3339 = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"


def _rfc3339(v):
    # pydantic would also read 13 or "13" as Unix seconds, and a time without a zone; the document
    # says date-time (RFC 3339: with its zone), and that is what is accepted
    if not isinstance(v, str) or not re.match(RFC3339, v):
        raise ValueError("must be an RFC 3339 date-time with its zone, e.g. 2026-11-30T12:00:00Z")
    return v


Timestamp = Annotated[datetime, BeforeValidator(_rfc3339)]
Price = Annotated[float, Field(strict=True, ge=0, lt=1e9)]  # strict: true/false are not prices
ListingText = Annotated[str, Field(max_length=2000)]


class ListingIn(_In):
    """The product listing registered for the room: what spoken claims are compared with
    (`claim_contradicts_listing`, the medical check by category). The same fields, checked the
    same way, as `--listing` of scan and monitor."""

    title: ListingText | None = None
    category: str | None = Field(default=None, json_schema_extra=_category_enum)
    material: ListingText | None = Field(default=None, description="e.g. '95% polyester, 5% spandex'")
    origin: ListingText | None = None
    certifications: list[ListingText] = Field(default=[], max_length=100)
    price: Price | None = None
    prices: list[Price] = Field(default=[], max_length=1000)
    stock: Annotated[int, Field(ge=0, le=2**53), BeforeValidator(_whole_number)] | None = None
    id: Annotated[str, Field(max_length=200)] | None = None
    sku: Annotated[str, Field(max_length=200)] | None = None

    @model_validator(mode="after")
    def _as_scan_reads_it(self):
        from claims.listing import Listing, ListingError

        try:
            Listing.from_dict(self.stored())
        except ListingError as exc:
            raise ValueError(str(exc)) from None
        return self

    def stored(self) -> dict:
        return self.model_dump(exclude_none=True, exclude_defaults=True)


class StreamCreate(_In):
    url: str = Field(min_length=1, max_length=2000)
    platform: str = Field(min_length=1, max_length=64)
    streamer_id: DbId | None = None
    listing: ListingIn | None = Field(default=None, description="the registered product listing being sold")


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
def _label_enum(schema: dict) -> None:
    from claims.taxonomy import LABELS  # when the document is built, not at import (loads torch)

    schema["enum"] = sorted(LABELS)


class FlagCreate(_In):
    """A flag carrying its own fields (live detectors, vision) rather than pointing at a finding."""

    label: str = Field(json_schema_extra=_label_enum)
    t0: Number = Field(ge=0, le=MAX_STREAM_S)
    t1: Number = Field(ge=0, le=MAX_STREAM_S, description="end of the span; a span given end first (t1 < t0) is "
                                                        "stored as [t1, t0]")
    score: Number = Field(ge=0, le=1)
    evidence: str = Field(max_length=10_000)
    segment_text: str = Field(default="", max_length=10_000)
    decided_by: str = Field(min_length=1, max_length=200)
    severity: Literal["high", "medium", "low"] | None = Field(default=None, description="default: the label's")
    stream_id: DbId | None = None
    recording_id: DbId | None = None
    clip_path: str | None = Field(default=None, max_length=4096)
    model_ids: dict[str, str] = Field(default={})

    _label = field_validator("label")(classmethod(lambda cls, v: _check_label(v)))

    @model_validator(mode="after")
    def _span_in_order(self):
        # the schema cannot say t0 <= t1, so a reversed span is read, not refused: no information is lost
        if self.t1 < self.t0:
            self.t0, self.t1 = self.t1, self.t0
        return self


def _no_null(schema: dict) -> None:
    schema.pop("default", None)  # optional, but null is not a value: absent means "not given"


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
    """The recording, by exactly one of its id or its file's sha256."""

    _schema_extra: ClassVar[dict] = {"oneOf": [{"required": ["recording_id"]}, {"required": ["sha256"]}]}

    recording_id: DbId = Field(default=None, json_schema_extra=_no_null)
    sha256: str = Field(default=None, pattern=r"^[0-9a-f]{64}$", json_schema_extra=_no_null)
    stream_id: DbId | None = None
    clip_path: str | None = Field(default=None, max_length=4096)


    @model_validator(mode="after")
    def _one_recording(self):
        if (self.recording_id is None) == (self.sha256 is None):
            raise ValueError("give exactly one of recording_id or sha256")
        return self


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
