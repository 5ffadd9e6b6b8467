"""The classes renamed in #18 still import under their old names for one release, with a warning naming the new."""

from __future__ import annotations

import importlib

import pytest

import redis_constructs
from redis_constructs import migration
from redis_constructs.migration import RENAMED


@pytest.mark.parametrize(("old", "new"), sorted(RENAMED.items()))
def test_an_old_name_still_imports_from_the_migration_face_with_a_warning(old: str, new: str) -> None:
    with pytest.warns(DeprecationWarning, match=rf"^redis_constructs\.migration\.{old} is renamed {new};") as caught:
        value = getattr(migration, old)
    assert value is getattr(migration, new)
    assert value.__name__ == new
    # The warning points at the line that asked for the old name, not inside the package.
    assert [w.filename for w in caught] == [__file__]


@pytest.mark.parametrize("old", ["DataCopy", "ValidationJob"])
def test_the_old_names_the_root_exported_still_import_from_it_with_a_warning(old: str) -> None:
    with pytest.warns(DeprecationWarning, match=rf"{old} is renamed {RENAMED[old]};") as caught:
        value = getattr(redis_constructs, old)
    assert value is getattr(redis_constructs, RENAMED[old])
    assert [w.filename for w in caught] == [__file__]


def test_old_names_are_not_listed_on_any_face() -> None:
    for face in (redis_constructs, migration):
        assert not set(RENAMED) & set(face.__all__)
        assert set(RENAMED.values()) <= set(face.__all__) | {"DataCopyJobRun"}
    assert "DataCopyJobRun" in migration.__all__


def test_a_from_import_of_an_old_name_warns_too() -> None:
    with pytest.warns(DeprecationWarning, match=r"ValidationJob is renamed ValidationJobRun"):
        namespace: dict[str, object] = {}
        exec("from redis_constructs.migration import ValidationJob", namespace)
    assert namespace["ValidationJob"] is importlib.import_module("redis_constructs.migration").ValidationJobRun
