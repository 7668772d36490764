"""What a write that lost a race does: the newer state always wins (DESIGN.md,
"Concurrent writers"), and an editor's decision is never undone by a machine's.

The set store's compare-and-swap (``storage/sets.py``) tells a writer that another
write landed between its read and its manifest; these rules, kept in one place for
every operation of ``ImageService``, say whether it then writes again on top of the
winner or gives up with ``Conflict`` (409) and keeps nothing:

- a re-conversion (a machine's work) always re-reads and starts over, or stops when
  what it finds is current;
- an upload, a PATCH or a delete (an editor's decision) is applied again on top of a
  winner that kept the same photo (a re-conversion, an adoption, the client's own
  retry), and gives up when the winner is another photo or a delete: that is
  another editor's decision. So is a winner that set another focus (a PATCH): an
  upload that brings a focus of its own then gives up; one without a focus, of the
  same photo, is written on top and keeps that focus (``ImageService.ingest``).
"""

from __future__ import annotations

from typing import Any

from .describe.manifest import same_photo
from .errors import Conflict
from .pipeline.focus import Focus, editor_focus

#: Writes of one image before giving up when other writers keep winning the race.
MAX_ATTEMPTS = 5


def still_applies(
    read: dict[str, Any] | None, now: dict[str, Any] | None, sha256: str, focus_given: bool
) -> bool:
    """Whether an upload of ``sha256`` that read ``read`` and lost to ``now`` should be
    written on top of it: yes when ``now`` is this very photo (a retry) or kept the
    photo the upload replaces, and no editor set another focus meanwhile (unless the
    upload brings none and is ``now``'s photo: it then keeps that focus)."""
    if now is None:
        return False
    this_photo = now["original"].get("sha256") == sha256
    if not (this_photo or same_photo(read, now)):
        return False
    refocused = editor_focus(_focus(read)) != editor_focus(now.get("focus"))
    return not refocused or (this_photo and not focus_given)


def kept_focus(stored: dict[str, Any] | None, sha256: str) -> Focus | None:
    """The editor's focus an upload without one keeps: that of the stored set when it
    is of these very bytes (a client's retry must not drop an editor's work)."""
    if stored is None or stored["original"].get("sha256") != sha256:
        return None
    return editor_focus(stored.get("focus"))


def _focus(manifest: dict[str, Any] | None) -> Any:
    return None if manifest is None else manifest.get("focus")


def gave_up(media_id: str) -> Conflict:
    return Conflict(
        f"image {media_id} kept changing while this write was being stored "
        f"({MAX_ATTEMPTS} attempts); try again"
    )


def lost(media_id: str, what: str, outcome: str) -> Conflict:
    """The 409 of an editor's write that lost to another photo or a delete."""
    return Conflict(
        f"image {media_id} changed while {what} (another upload or a delete of it "
        f"finished first); {outcome}. GET /v1/images/{media_id} shows what is stored now."
    )
