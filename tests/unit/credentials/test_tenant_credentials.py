"""TenantCredentials on its own: what each source renders, versions per tenant copy, references, bad input."""

from __future__ import annotations

from pathlib import Path

import cdk8s
import pytest

from redis_constructs import PropError, SecretSource
from redis_constructs.credentials.tenant_credentials import (
    TenantCredentials,
    TenantCredentialsProps,
)
from redis_constructs.credentials.tenant_sealing import PASSWORD_SUFFIX, PREVIOUS_PASSWORD_SUFFIX
from redis_constructs.server import tenants


def make(source: SecretSource) -> tuple[cdk8s.Chart, TenantCredentials]:
    chart = cdk8s.Chart(cdk8s.App(), "c", disable_resource_name_hashes=True)
    return chart, TenantCredentials(chart, "T", TenantCredentialsProps(source=source))


def test_key_suffixes_are_the_tenant_files_the_sidecar_reads() -> None:
    script = (Path(tenants.__file__).parent / "acl_reload.sh").read_text()
    assert f'"$ACL_TENANT_SECRETS_DIR/$id{PASSWORD_SUFFIX}"' in script
    assert f'"$ACL_TENANT_SECRETS_DIR/$id{PREVIOUS_PASSWORD_SUFFIX}"' in script


def test_existing_source_renders_nothing_and_declares_what_must_exist() -> None:
    chart, creds = make(SecretSource.existing(version="3"))
    creds.add_tenant("shop")
    creds.add_tenant("blog", rotating=True)
    assert chart.to_json() == []
    assert creds.version_in("shop") == "3"
    assert dict(creds.external_refs().secrets) == {
        ("shop", "redis-shared-client"): frozenset({"password"}),
        ("blog", "redis-shared-client"): frozenset({"password"}),
        ("redis", "redis-shared-client"): frozenset({"shop.password", "blog.password", "blog.previous-password"}),
    }


def test_external_source_reads_each_tenants_property_and_the_previous_one_while_rotating() -> None:
    chart, creds = make(SecretSource.external(store_name="vault", remote_key="homelab/redis"))
    creds.add_tenant("shop", rotating=True)
    server = next(o for o in chart.to_json() if o["metadata"]["namespace"] == "redis")
    assert [d["secretKey"] for d in server["spec"]["data"]] == ["shop.password", "shop.previous-password"]
    shop = next(o for o in chart.to_json() if o["metadata"]["namespace"] == "shop")
    assert shop["spec"]["data"] == [
        {"secretKey": "password", "remoteRef": {"key": "homelab/redis", "property": "shop.password"}}
    ]


def test_plaintext_version_follows_only_the_tenants_own_password() -> None:
    _, one = make(SecretSource.plaintext_for_tests({"a.password": "a" * 20, "b.password": "b" * 20}))
    _, two = make(SecretSource.plaintext_for_tests({"a.password": "a" * 20, "b.password": "c" * 20}))
    for creds in (one, two):
        creds.add_tenant("a")
        creds.add_tenant("b")
    assert one.version_in("a") == two.version_in("a")
    assert one.version_in("b") != two.version_in("b")


def test_fails_references_to_what_is_not_there() -> None:
    _, creds = make(SecretSource.existing())
    with pytest.raises(PropError, match=r"^namespace: got 'shop'; expected one of no tenant yet"):
        creds.key_ref(namespace="shop")
    creds.add_tenant("shop")
    with pytest.raises(PropError, match=r"^key: got 'shop\.password'; expected 'password'"):
        creds.key_ref("shop.password", namespace="shop")
    with pytest.raises(PropError, match=r"^tenant namespace: got 'shop'; expected a tenant not added yet"):
        creds.add_tenant("shop")
    with pytest.raises(PropError, match=r"^tenant namespace: got 'redis'; expected a namespace other than Redis's"):
        creds.add_tenant("redis")


def test_fails_bad_props() -> None:
    with pytest.raises(PropError, match=r"^name: got 'Bad_Name'; expected a Secret name"):
        TenantCredentialsProps(source=SecretSource.existing(), name="Bad_Name")
    with pytest.raises(PropError, match=r"^source\.plaintext: got 'password'; expected keys '<tenant>\.password'"):
        TenantCredentialsProps(source=SecretSource.plaintext_for_tests({"password": "x" * 20}))
    with pytest.raises(PropError, match=r"^source: got 'str'; expected a SecretSource"):
        TenantCredentialsProps(source="sealed")  # type: ignore[arg-type]
