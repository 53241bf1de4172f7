"""User-facing errors: each message says which file, what is wrong and what to do."""


class VitrinaError(Exception):
    """An error meant for the user; ``str(error)`` is a complete sentence."""


class BundleError(VitrinaError):
    """A model bundle is missing or does not match its manifest."""


class DecodeError(VitrinaError):
    """A photo cannot be read."""


class UnsupportedFormatError(DecodeError):
    """A file is in a format Vitrina does not read (SVG, HEIC, ...)."""


class CatalogError(VitrinaError):
    """The catalog is locked, unreadable or refuses a write."""


class ConflictError(CatalogError):
    """Someone else changed a tag after this edit last saw it."""


class IndexMismatchError(VitrinaError):
    """The similarity index was built by another bundle or dimension."""
