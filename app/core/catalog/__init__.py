"""The catalog: photos, predictions, tags with their audit trail, and stored embeddings."""

from app.core.catalog.rows import (
    FREE_FORM,
    AuditRow,
    DuplicatePhotoError,
    ExportRow,
    NewPhoto,
    PhotoFilter,
    PhotoRow,
    PredictionRow,
    RemovedPhotos,
    TagRow,
)
from app.core.catalog.slots import PhotoNotFoundError, default_actor
from app.core.catalog.states import ReviewState, TagSource, TagStatus
from app.core.catalog.store import Catalog

__all__ = [
    "FREE_FORM",
    "AuditRow",
    "Catalog",
    "DuplicatePhotoError",
    "ExportRow",
    "NewPhoto",
    "PhotoFilter",
    "PhotoNotFoundError",
    "PhotoRow",
    "PredictionRow",
    "RemovedPhotos",
    "ReviewState",
    "TagRow",
    "TagSource",
    "TagStatus",
    "default_actor",
]
