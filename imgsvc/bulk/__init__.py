"""Bulk re-conversion: find every stored image and bring it up to date.

One image at a time the work is ImageService's; this package only finds the work
and spreads it:

- ``scan``: the storage listing, grouped by media id while it streams, and the
  classification of each image (up to date, outdated, missing conversions, orphaned);
- ``work``: what one image needs done, done (used by pool workers and Celery tasks);
- ``local``: ``imgsvc reconvert --workers N``, a process pool on one machine;
- ``progress``: a progress bar on a terminal, plain lines elsewhere;
- ``ledger``: one distributed run's counters in Redis (``--enqueue``, ``--status``);
- ``enqueue``: publishing batches of media ids to Celery with back-pressure.
"""

from __future__ import annotations

from .scan import Action, Finding, Listing, Plan, State, StoredImage, classify
from .work import Outcome, Result, adopt, refresh

__all__ = [
    "Action",
    "Finding",
    "Listing",
    "Outcome",
    "Plan",
    "Result",
    "State",
    "StoredImage",
    "adopt",
    "classify",
    "refresh",
]
