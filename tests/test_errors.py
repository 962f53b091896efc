"""One exception tree: each error says its exit code and JSON-RPC code, and every caller reads them there."""
from __future__ import annotations

from pathlib import Path

import pytest

from alice.daemon import errors
from alice.daemon.api import protocol as p
from alice.daemon.api.methods import error_for
from alice.daemon.catalog.asset_ref import AssetNotFound, BadAssetRef, parse_ref
from alice.daemon.catalog.curation import Conflict, CurationError
from alice.daemon.catalog.errors import CatalogConfigError, CatalogUnavailable
from alice.daemon.config import ConfigError
from alice.daemon.fs.fileops import PlacementError, SourceChanged
from alice.daemon.generation.errors import GenerateError, RequestNotFound
from alice.daemon.ingest.relocate import RelocateError
from alice.pipeline.plan import PlanError
from alice.providers.errors import BudgetExceeded


@pytest.mark.parametrize("exc, exit_code, rpc_code", [
    (ConfigError("x"), errors.EXIT_CONFIG, p.INVALID_PARAMS),
    (CatalogUnavailable("down"), errors.EXIT_CATALOG, p.CATALOG_UNAVAILABLE),
    (CatalogConfigError("bad url"), errors.EXIT_CATALOG, p.CATALOG_UNAVAILABLE),
    (CurationError("bad tag"), errors.EXIT_CONFIG, p.INVALID_PARAMS),
    (Conflict("name taken"), errors.EXIT_PARTIAL, p.CONFLICT),
    (AssetNotFound("no asset"), errors.EXIT_CONFIG, p.NOT_FOUND),
    (BadAssetRef("what"), errors.EXIT_CONFIG, p.INVALID_PARAMS),
    (GenerateError("no model"), errors.EXIT_CONFIG, p.INVALID_PARAMS),
    (RequestNotFound("no request 9"), errors.EXIT_CONFIG, p.NOT_FOUND),
    (RelocateError("changed"), errors.EXIT_PARTIAL, p.CONFLICT),
    (SourceChanged("changed"), errors.EXIT_PARTIAL, p.CONFLICT),
    (PlanError("no free name"), errors.EXIT_PARTIAL, p.CONFLICT),
    (BudgetExceeded("fal", "over budget"), errors.EXIT_PARTIAL, p.BUDGET_EXCEEDED),
    (ValueError("odd"), errors.EXIT_CONFIG, p.INVALID_PARAMS),
    (KeyError("bug"), errors.EXIT_PARTIAL, p.INTERNAL_ERROR),
])
def test_each_error_carries_its_codes(exc: BaseException, exit_code: int, rpc_code: int) -> None:
    got = errors.report(exc)
    assert (got.exit_code, got.rpc_code) == (exit_code, rpc_code)
    assert error_for(exc).code == rpc_code


def test_messages_say_what_to_do() -> None:
    assert error_for(CatalogUnavailable("PostgreSQL is down.")).message.endswith("try again in a moment")
    assert error_for(PlacementError("no room")).message == "the file could not be moved: no room"
    assert "KeyError" in error_for(KeyError("secret detail")).message
    assert "secret detail" not in error_for(KeyError("secret detail")).message
    assert isinstance(PlacementError("x"), OSError) and isinstance(RequestNotFound("x"), GenerateError)


def test_asset_references_have_one_syntax(tmp_path: Path) -> None:
    cid = "b3:" + "a" * 64
    assert parse_ref(7).asset_id == 7 and parse_ref("7").asset_id == 7 and parse_ref("asset:7").asset_id == 7
    assert parse_ref(cid).content_id == cid
    assert parse_ref("b3:short").path == Path("b3:short")
    assert parse_ref(str(tmp_path / "a.png")).path == tmp_path / "a.png"
    with pytest.raises(BadAssetRef):
        parse_ref(True)  # type: ignore[arg-type]
