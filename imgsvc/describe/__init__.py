"""What a stored set looks like: the manifest written beside it, the description
clients get, and its srcset. Pure data in, data out: no storage calls here."""

from __future__ import annotations

from .description import describe, public_url
from .manifest import MANIFEST_SCHEMA, build_manifest, manifest_keys
from .srcset import srcset

__all__ = ["MANIFEST_SCHEMA", "build_manifest", "describe", "manifest_keys", "public_url", "srcset"]
