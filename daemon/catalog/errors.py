"""What can go wrong with the catalog, as types a caller can act on."""
from __future__ import annotations

from alice.daemon import errors


class CatalogError(errors.AliceError):
    """Base class for catalog problems."""
    exit_code = errors.EXIT_CATALOG
    rpc_code = errors.CATALOG_UNAVAILABLE


class CatalogUnavailable(CatalogError, errors.Unavailable):
    """The PostgreSQL server cannot be reached or started right now.

    Transient by nature: the daemon pauses work and retries (Catalog.wait_available);
    nothing queued is lost, because the queue lives in the same database.
    """


class CatalogSchemaError(CatalogError):
    """The database schema is not one this version of alice can use."""


class CatalogConfigError(CatalogError):
    """database.url (or data_dir) is not something alice can use; the message says why."""
