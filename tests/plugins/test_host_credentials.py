"""The per-launch tokens of supervised hosts: one live token per host, gone with its launch."""

from __future__ import annotations

from plugway.plugins._host_credentials import HostCredentials

TYPE = "gts.x.core.modkit.plugin.v1~acme.search.docs.plugin.v1~"


def test_each_launch_gets_a_token_of_its_own_and_a_relaunch_revokes_the_last() -> None:
    creds = HostCredentials()
    hosts = creds.gateway("docs", TYPE)
    first = hosts.issue("ranker")
    launch = creds.launch_of(f"Bearer {first}")
    assert launch is not None and (launch.host, launch.type_id, launch.url) == (
        "docs/ranker",
        TYPE,
        None,
    )
    hosts.listening("ranker", "http://127.0.0.1:7001")
    listening = creds.launch_of(f"bearer {first}")
    assert listening is not None and listening.url == "http://127.0.0.1:7001"
    second = hosts.issue("ranker")
    assert second != first and creds.launch_of(f"Bearer {first}") is None
    assert creds.launch_of(f"Bearer {second}") is not None
    other = creds.gateway("shop", TYPE).issue("ranker")  # the same name in another gateway
    elsewhere = creds.launch_of(f"Bearer {other}")
    assert elsewhere is not None and elsewhere.host == "shop/ranker"
    assert creds.launch_of(f"Bearer {second}") is not None
    hosts.ended("ranker")
    assert creds.launch_of(f"Bearer {second}") is None and creds.known("docs/ranker")
    hosts.forget("ranker")
    assert not creds.known("docs/ranker") and creds.known("shop/ranker")


def test_only_a_bearer_header_with_a_live_token_names_a_launch() -> None:
    creds = HostCredentials()
    token = creds.gateway("docs", TYPE).issue("ranker")
    for header in (None, "", token, f"Basic {token}", "Bearer ", f"Bearer {token}x"):
        assert creds.launch_of(header) is None, header
    assert creds.launch_of(f"Bearer   {token}  ") is not None


def test_a_plugin_id_is_claimed_by_the_first_host_until_that_host_is_forgotten() -> None:
    creds = HostCredentials()
    plugin = TYPE + "acme.search.bm25.plugin.v1"
    assert creds.claim(plugin, "docs/one", 8) is None
    assert creds.claim(plugin, "docs/one", 8) is None  # its own again
    assert creds.claim(plugin, "docs/two", 8) == f"{plugin} is served by supervised host docs/one"
    creds.gateway("docs", TYPE).forget("one")
    assert creds.claim(plugin, "docs/two", 8) is None


def test_a_host_holds_at_most_max_plugins_ids() -> None:
    creds = HostCredentials()
    ids = [TYPE + f"acme.search.p{i}.plugin.v1" for i in range(4)]
    assert [creds.claim(p, "docs/one", 3) for p in ids[:3]] == [None, None, None]
    refused = creds.claim(ids[3], "docs/one", 3)
    assert refused is not None and "holds 3 plugin ids already, its max_plugins" in refused
    assert creds.claim(ids[0], "docs/one", 3) is None  # what it holds it keeps
    assert creds.claim(ids[3], "docs/two", 3) is None  # the cap is per host
    creds.gateway("docs", TYPE).forget("one")  # a forgotten host's ids are free, its count too
    assert creds.claim(ids[0], "docs/two", 3) is None
    assert [creds.claim(p, "docs/one", 3) for p in ids[1:3]] == [None, None]
