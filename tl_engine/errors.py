"""Exceptions raised by tl_engine. Each message names the value that failed and what to do next."""


class TLError(Exception):
    """Base class of every error tl_engine raises on purpose."""


class CatalogError(TLError, KeyError):
    """A model name, framework or use case that the catalog does not list."""

    def __str__(self) -> str:
        # KeyError would wrap the message in quotes.
        return str(self.args[0]) if self.args else ""


class DatasetError(TLError, ValueError):
    """A dataset folder or file that cannot be used as it is."""


class WeightsNotFoundError(TLError, FileNotFoundError):
    """Pretrained weights that are neither in the local cache nor downloadable."""


class ArtifactError(TLError):
    """An artifact directory that is missing, incomplete or of another kind."""


class ConfigError(TLError, ValueError):
    """A pipeline setting with an unknown key or a wrong type."""
