"""The station registry: one SQLite file with versioned stations, an audit trail and staff accounts.

:class:`Registry` is the one object the CLI, the web app, the workspace and the desk use. It
is composed of one class per job, reading bottom-up:

=============  ==========================================================================
``policy``     rules for staff accounts: password policy, session and token lifetimes,
               login throttling (numbers the web app and the CLI read too)
``db``         the file: identity checks, schema and migrations, private file modes,
               connections and transactions (busy timeout, rollback)
``stations``   stations: read, write with optimistic locking, audit trail, bulk import
``users``      users, bearer tokens, server-side sessions, login throttling
=============  ==========================================================================

Every public method keeps its name and signature whichever module holds it; import
from ``planner.registry``.
"""

from __future__ import annotations

from planner.errors import ConflictError, ForbiddenError, InputError, NotFoundError, RegistryError, ThrottledError
from planner.registry.db import APPLICATION_ID, BUSY_TIMEOUT_S, SCHEMA_VERSION
from planner.registry.stations import StationStore
from planner.registry.users import ROLES, UserStore


class Registry(StationStore, UserStore):
    """A station registry file.

    Parameters
    ----------
    path : str or Path, optional
        The SQLite file; default :func:`planner.settings.db_path` (``YIZHAN_DB``).
    create : bool
        Create the file (and its folder) when missing. An existing registry is opened as
        is; an existing empty file or empty SQLite database is initialised; anything else
        is refused, never overwritten.

    Raises
    ------
    RegistryError
        Missing file (``create=False``), not SQLite, damaged, not a Yizhan registry, or
        written by a newer Yizhan.

    Examples
    --------
    >>> reg = Registry(tmp_path / "r.sqlite", create=True)            # doctest: +SKIP
    >>> reg.seed(load_region().stations)                               # doctest: +SKIP
    >>> s = reg.get("MY-DH-01")                                        # doctest: +SKIP
    >>> reg.update(s["id"], {"amenities": {"shower": True}},           # doctest: +SKIP
    ...            expected_version=s["version"], actor="alice")
    """


__all__ = [
    "APPLICATION_ID", "BUSY_TIMEOUT_S", "ROLES", "SCHEMA_VERSION", "ConflictError", "ForbiddenError", "InputError",
    "NotFoundError", "Registry", "RegistryError", "ThrottledError",
]
