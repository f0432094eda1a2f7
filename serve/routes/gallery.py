"""The protected-people gallery: enrol from photos (and a voice recording), list, remove.

Admins write (a gallery entry decides whose face or voice raises findings: biometric data, and
an authorised account switches findings off); moderators, regulators and admins read. Prints
never leave the server: the list gives names, kinds, accounts and counts.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi import Path as PathParam

from serve import crud
from serve.errors import invalid
from serve.deps import AdminDep, ReaderDep, SessionDep, SettingsDep
from serve.gallery import face_print, gallery_path, locked, open_gallery, voice_print
from serve.schemas import GalleryEntryPublic, GalleryPublic

router = APIRouter(prefix="/gallery", tags=["gallery"])

MAX_PHOTOS = 10
NameStr = Annotated[str, Form(min_length=1, max_length=200, description="the person's name, unique in the gallery")]
NamePath = Annotated[str, PathParam(min_length=1, max_length=200)]


def _public(entry) -> GalleryEntryPublic:
    return GalleryEntryPublic(name=entry.name, kind=entry.kind, face_prints=len(entry.face_prints),
                              voice_prints=len(entry.voice_prints),
                              authorised_accounts=list(entry.authorised_accounts), added_at=entry.added_at)


def _label(upload: UploadFile, i: int, what: str) -> str:
    name = PurePath(upload.filename or "").name[:100]
    return name or f"{what} {i + 1}"


@router.get("", response_model=GalleryPublic)
def list_entries(settings: SettingsDep, who: ReaderDep) -> GalleryPublic:
    gallery = open_gallery(gallery_path(settings))
    return GalleryPublic(data=[_public(e) for e in gallery], count=len(gallery))


@router.post("", response_model=GalleryEntryPublic, status_code=201,
             responses={422: {"description": "a photo is unreadable or does not show exactly one face, or the "
                                             "recording holds too little speech"},
                        409: {"description": "the name is in the gallery with the other kind"},
                        501: {"description": "voice enrolment is not available in this build"}},
             # photos or a voice, at least one: the form's schema says so, as the check below does
             openapi_extra={"requestBody": {"content": {"multipart/form-data": {"schema": {
                 "anyOf": [{"required": ["images"], "properties": {"images": {"minItems": 1}}},
                           {"required": ["voice"]}]}}}}})
def enrol(request: Request, session: SessionDep, settings: SettingsDep, who: AdminDep, name: NameStr,
          kind: Annotated[Literal["protected", "blacklisted"], Form()] = "protected",
          images: Annotated[list[UploadFile] | None, File(description="photos, each showing exactly one face")] = None,
          voice: Annotated[UploadFile | None, File(description="a recording of the person speaking")] = None,
          authorised_accounts: Annotated[list[str] | None, Form(
              description="accounts allowed to show this person (repeat the field for several)")] = None,
          ) -> GalleryEntryPublic:
    """Enrol a person, or add photos / a voice / accounts to an existing name of the same kind.
    Every upload is checked before anything is written: one bad photo enrols nothing."""
    name = name.strip()
    images = [f for f in images or [] if f is not None]
    accounts = [a.strip() for a in authorised_accounts or [] if a and a.strip()]
    if not name:
        raise invalid("name must not be blank", "name")
    if len(images) > MAX_PHOTOS:
        raise invalid(f"at most {MAX_PHOTOS} photos per request, got {len(images)}", "images")
    if any(len(a) > 200 for a in accounts):
        raise invalid("authorised account ids are at most 200 characters", "authorised_accounts")
    labels = [_label(f, i, "photo") for i, f in enumerate(images)]
    faces = [face_print(request.app.state, f.file.read(), lab) for f, lab in zip(images, labels)]
    voices, voice_model = None, None
    if voice is not None:
        labels.append(_label(voice, 0, "voice"))
        vp, voice_model = voice_print(request.app.state, voice.file.read(), labels[-1])
        voices = np.asarray(vp, np.float32).reshape(1, -1)
    if not faces and voices is None:
        raise invalid("send at least one photo (images) or a voice recording (voice)", "images")

    from vision.errors import GalleryError

    path = gallery_path(settings)
    with locked(path):
        gallery = open_gallery(path)
        try:
            extra = {"voice_model": voice_model} if voice_model else {}
            entry = gallery.add(name, face_prints=np.array(faces, np.float32) if faces else None,
                                voice_prints=voices, authorised_accounts=accounts, kind=kind, sources=labels, **extra)
        except GalleryError as exc:
            raise HTTPException(409, str(exc)) from exc
        gallery.save()
    crud.audit(session, who=who, action="gallery.enrol", entity="gallery", entity_id=None,
               details={"name": entry.name, "kind": kind, "photos": len(faces), "voice": voices is not None,
                        "authorised_accounts": accounts})
    session.commit()
    return _public(entry)


@router.delete("/{name}", response_model=GalleryEntryPublic)
def remove(name: NamePath, session: SessionDep, settings: SettingsDep, who: AdminDep) -> GalleryEntryPublic:
    """Remove a person and all their prints."""
    from vision.errors import GalleryError

    path = gallery_path(settings)
    with locked(path):
        gallery = open_gallery(path)
        try:
            entry = gallery.remove(name)
        except GalleryError:
            raise HTTPException(404, f"no gallery entry named {name!r}") from None
        gallery.save()
    crud.audit(session, who=who, action="gallery.remove", entity="gallery", entity_id=None,
               details={"name": entry.name, "kind": entry.kind})
    session.commit()
    return _public(entry)
