"""Pure rendering of tenants: ACL rules, the tenants file, Secret keys, the exporter's count-keys value."""

from __future__ import annotations

import pytest

from redis_constructs.server.redis_conf import CLIENT_DENIED_COMMANDS, TenantCommands
from redis_constructs.server.tenants import (
    CONFINED_DENIED_COMMANDS,
    NO_PASSWORD,
    Tenant,
    count_keys_param,
    render_tenants_file,
    tenant_secret_keys,
    validate_tenants,
)

BEER = Tenant(namespace="beersystem", password_only=True)
SHOP = Tenant(namespace="shop", key_prefix="shop:")


def test_password_only_tenant_is_default_and_unconfined() -> None:
    assert BEER.user == "default"
    assert BEER.rules().startswith("~* &* +@all -@admin -@scripting ")
    assert "-keys" not in BEER.rules().split()
    assert BEER.rules() == TenantCommands().rules()  # beersystem keeps exactly today's rules


def test_confined_tenant_gets_its_prefix_and_loses_keyless_commands() -> None:
    words = SHOP.rules().split()
    assert words[:2] == ["~shop:*", "&shop:*"]
    assert "~*" not in words and "&*" not in words
    for c in (*CLIENT_DENIED_COMMANDS, *CONFINED_DENIED_COMMANDS, "eval", "restore"):
        assert "-" + c in words
    assert "-scan" not in words  # SCAN stays; README says what it reveals


def test_username_defaults_to_namespace_and_can_be_set() -> None:
    assert SHOP.user == "shop"
    assert Tenant(namespace="shop", username="shop-app").user == "shop-app"


def test_scripting_allowed_keeps_scripting_category() -> None:
    t = Tenant(namespace="shop", key_prefix="shop:", commands=TenantCommands(allow_scripting=True))
    assert "-@scripting" not in t.rules() and "-eval" not in t.rules().split()


def test_tenants_file_lines_and_default_line() -> None:
    assert render_tenants_file([SHOP, BEER]) == f"beersystem default {BEER.rules()}\nshop shop {SHOP.rules()}\n"
    assert render_tenants_file([SHOP]).splitlines()[-1] == f"{NO_PASSWORD} default"
    assert render_tenants_file([]) == f"{NO_PASSWORD} default\n"


def test_secret_keys_and_rotation_keys() -> None:
    assert tenant_secret_keys([SHOP, BEER]) == ("beersystem.password", "shop.password")
    assert tenant_secret_keys([SHOP, BEER], rotating=["shop"]) == (
        "beersystem.password",
        "shop.password",
        "shop.previous-password",
    )


def test_count_keys_only_for_confined_tenants() -> None:
    blog = Tenant(namespace="blog", key_prefix="blog:")
    assert count_keys_param([SHOP, BEER, blog]) == "db0=blog:*,db0=shop:*"
    assert count_keys_param([BEER]) is None


def test_fails_second_password_only_tenant() -> None:
    with pytest.raises(ValueError, match=r"tenants: got 'other'; expected at most one password-only tenant"):
        validate_tenants([BEER, Tenant(namespace="other", password_only=True)])


def test_fails_duplicate_namespace() -> None:
    with pytest.raises(ValueError, match=r"tenants: got 'shop'; expected one tenant per namespace"):
        validate_tenants([SHOP, Tenant(namespace="shop")])


def test_fails_duplicate_username() -> None:
    with pytest.raises(ValueError, match=r"tenants: got 'shop'; expected a username not taken"):
        validate_tenants([SHOP, Tenant(namespace="other", username="shop")])


def test_fails_overlapping_prefixes() -> None:
    with pytest.raises(ValueError, match=r"expected a key prefix outside 'shop''s 'shop:'"):
        validate_tenants([SHOP, Tenant(namespace="eu", key_prefix="shop:eu:")])


@pytest.mark.parametrize("prefix", ["shop", "*", "shop*:", "sh op:", "a,b:", "a=b:", ":", "", "shop:\n"])
def test_fails_key_prefix_rule(prefix: str) -> None:
    with pytest.raises(ValueError, match=r"tenant.key_prefix: got .*; expected None or 2-64 characters"):
        Tenant(namespace="shop", key_prefix=prefix)


def test_fails_key_prefix_without_separator_suggests_one() -> None:
    with pytest.raises(ValueError, match=r"did you mean 'shop:'\?"):
        Tenant(namespace="shop", key_prefix="shop")


@pytest.mark.parametrize("name", ["admin", "exporter", "replication", "migration"])
def test_fails_system_username(name: str) -> None:
    with pytest.raises(ValueError, match=r"tenant.username: got '" + name + "'; expected a name other than admin"):
        Tenant(namespace="shop", username=name)


def test_fails_default_username_without_password_only() -> None:
    with pytest.raises(ValueError, match=r"did you mean password_only=True\?"):
        Tenant(namespace="shop", username="default")


def test_fails_password_only_with_own_username() -> None:
    with pytest.raises(ValueError, match=r"expected None or 'default' for a password-only tenant"):
        Tenant(namespace="shop", username="shop", password_only=True)


def test_fails_namespace_not_dns_label() -> None:
    with pytest.raises(ValueError, match=r"tenant.namespace: got 'Shop'"):
        Tenant(namespace="Shop")


def test_fails_connection_share_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"tenant.connection_share: got 0; expected a fraction of maxclients"):
        Tenant(namespace="shop", connection_share=0)
