"""Shards of `kubedrift agent`: the stable hash, the spread, parsing `--shard` and the environment,
and where a dead shard's apps go."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from itertools import combinations

import pytest

from core.app_of_apps import root_of
from core.errors import ConfigError
from core.shard_membership import served_apps
from core.sharding import (
    Shard,
    app_shard,
    fnv1a_32,
    parse_shard,
    rendezvous_shard,
    serving_shard,
    shard_from_environment,
)

NAMES = [f"team-{team}-service-{number}" for team in range(40) for number in range(25)]  # 1,000 apps


@pytest.mark.parametrize(
    ("text", "expected"),
    # The published FNV-1a 32-bit test vectors (Fowler, Noll, Vo: "FNV hash test vectors").
    [("", 0x811C9DC5), ("a", 0xE40C292C), ("foobar", 0xBF9CF968)],
)
def test_fnv1a_matches_the_published_vectors(text: str, expected: int) -> None:
    assert fnv1a_32(text) == expected


def test_fnv1a_hashes_the_utf8_bytes() -> None:
    assert fnv1a_32("é") == fnv1a_32("\u00e9")
    assert fnv1a_32("é") != fnv1a_32("e")
    assert 0 <= fnv1a_32("ünïcödé-app") < 2**32


def test_app_shard_is_the_same_in_another_process_whatever_its_hash_seed() -> None:
    """Two agents must agree: the shard can never depend on Python's salted `hash()`."""
    names = NAMES[:50]
    script = (
        "import json, sys; from core.sharding import app_shard, serving_shard;"
        " names = json.load(sys.stdin);"
        " print(json.dumps([[app_shard(n, 7), serving_shard(n, 7, {0, 2, 5})] for n in names]))"
    )
    for seed in ("1", "2"):
        done = subprocess.run(
            [sys.executable, "-c", script],
            input=json.dumps(names),
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        assert json.loads(done.stdout) == [[app_shard(n, 7), serving_shard(n, 7, {0, 2, 5})] for n in names]


@pytest.mark.parametrize("count", [2, 3, 5])
def test_a_thousand_apps_spread_roughly_evenly(count: int) -> None:
    per_shard = Counter(app_shard(name, count) for name in NAMES)
    assert set(per_shard) == set(range(count))
    fair = len(NAMES) / count
    assert all(abs(n - fair) < 0.15 * fair for n in per_shard.values()), per_shard


def test_one_shard_holds_everything() -> None:
    assert {app_shard(name, 1) for name in NAMES} == {0}
    with pytest.raises(ValueError):
        app_shard("shop", 0)


def test_a_family_of_apps_stays_on_its_root_apps_shard() -> None:
    parents = {"platform": None, "ingress": "platform", "certs": "ingress", "monitoring": "platform"}
    shards = {name: app_shard(root_of(name, parents), 4) for name in parents}
    assert set(shards.values()) == {app_shard("platform", 4)}


def test_shard_prints_as_index_slash_count_and_owns_its_share() -> None:
    shard = Shard(1, 3)
    assert str(shard) == "1/3"
    assert [name for name in NAMES if shard.owns(name)] == [n for n in NAMES if app_shard(n, 3) == 1]
    with pytest.raises(ValueError):
        Shard(3, 3)


@pytest.mark.parametrize(
    ("text", "expected"), [("0/1", Shard(0, 1)), ("1/3", Shard(1, 3)), (" 2 / 4 ", Shard(2, 4))]
)
def test_parse_shard(text: str, expected: Shard) -> None:
    assert parse_shard(text) == expected


@pytest.mark.parametrize("text", ["", "1", "one/3", "1/3/5", "-1/3", "3/3", "5/2", "0/0", "1:3"])
def test_bad_shard_text_is_one_sentence_naming_the_option_and_the_form(text: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_shard(text)
    message = str(raised.value)
    assert message.startswith(f"--shard {text!r} ")
    assert "I/N" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"HOSTNAME": "kubedrift-2"}, None),
        ({"KUBEDRIFT_SHARDS": "3", "HOSTNAME": "kubedrift-2"}, Shard(2, 3)),
        ({"KUBEDRIFT_SHARDS": "3", "HOSTNAME": "kubedrift-agent-0"}, Shard(0, 3)),
        ({"KUBEDRIFT_SHARDS": "1", "HOSTNAME": "laptop"}, Shard(0, 1)),
    ],
)
def test_shard_from_the_statefulset_environment(environ: dict[str, str], expected: Shard | None) -> None:
    assert shard_from_environment(environ) == expected


@pytest.mark.parametrize(
    ("environ", "said"),
    [
        ({"KUBEDRIFT_SHARDS": "3", "HOSTNAME": "laptop"}, "'laptop'"),
        ({"KUBEDRIFT_SHARDS": "3"}, "''"),
        ({"KUBEDRIFT_SHARDS": "3", "HOSTNAME": "kubedrift-3"}, "ordinal 3"),
        ({"KUBEDRIFT_SHARDS": "three", "HOSTNAME": "kubedrift-0"}, "'three'"),
        ({"KUBEDRIFT_SHARDS": "0", "HOSTNAME": "kubedrift-0"}, "'0'"),
    ],
)
def test_unusable_shard_environment_is_one_sentence(environ: dict[str, str], said: str) -> None:
    with pytest.raises(ConfigError) as raised:
        shard_from_environment(environ)
    message = str(raised.value)
    assert said in message
    assert "KUBEDRIFT_SHARDS" in message
    assert "\n" not in message


def test_an_app_is_served_by_its_own_shard_while_that_shard_is_live() -> None:
    for name in NAMES[:200]:
        assert serving_shard(name, 4, {0, 1, 2, 3}) == app_shard(name, 4)


def test_a_dead_shards_apps_spread_over_the_live_ones_and_nothing_else_moves() -> None:
    count, dead = 4, 2
    live = {0, 1, 3}
    moved = Counter()
    for name in NAMES:
        own, now = app_shard(name, count), serving_shard(name, count, live)
        if own == dead:
            assert now in live
            moved[now] += 1
        else:
            assert now == own
    fair = sum(moved.values()) / len(live)
    assert set(moved) == live
    assert all(abs(n - fair) < 0.3 * fair for n in moved.values()), moved


def test_when_a_second_shard_dies_only_its_apps_move() -> None:
    """Rendezvous hashing: an app of the first dead shard stays where it went unless that one dies too."""
    count = 5
    before = {name: serving_shard(name, count, {0, 1, 3, 4}) for name in NAMES}
    after = {name: serving_shard(name, count, {0, 1, 4}) for name in NAMES}
    for name in NAMES:
        if before[name] != 3:
            assert after[name] == before[name]
        else:
            assert after[name] in {0, 1, 4}


def test_no_live_shard_serves_nothing() -> None:
    assert serving_shard("shop", 3, set()) is None
    assert rendezvous_shard("shop", []) is None


def test_every_look_at_the_live_shards_splits_the_apps_with_no_overlap_and_no_gap() -> None:
    count = 3
    names = NAMES[:300]
    for size in (1, 2, 3):
        for live in combinations(range(count), size):
            shares = [set(served_apps(names, Shard(index, count), live)) for index in live]
            assert set().union(*shares) == set(names), live
            assert sum(len(share) for share in shares) == len(names), live


def test_unsharded_serves_every_app_in_the_configs_order() -> None:
    assert served_apps(["b", "a", "c"], None, ()) == ["b", "a", "c"]
