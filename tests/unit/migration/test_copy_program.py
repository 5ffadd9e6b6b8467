"""The copy program's pure parts (RESP encoding/decoding, digests, TTL comparison, batching, arguments).

Its behaviour against real Redis servers is in tests/runtime/test_data_copy_runtime.py.
"""

from __future__ import annotations

import io

import pytest

from redis_constructs.migration.copy_program import (
    SHOW_KEYS,
    Bounded,
    Copier,
    Group,
    KeyState,
    Progress,
    ProtocolError,
    Reply,
    RespError,
    Sent,
    by_size,
    compare,
    digest,
    encode,
    first_keys,
    key_arg,
    logical_writes,
    parse_args,
    read_reply,
    same_value,
    show,
    ttl_difference,
    unordered_elements,
    value_commands,
)


def test_encode_is_binary_safe() -> None:
    payload = b"\x00\r\n$3\r\nbad\xff"
    assert b"".join(encode(["RESTORE", payload, 0])) == (
        b"*3\r\n$7\r\nRESTORE\r\n$%d\r\n" % len(payload) + payload + b"\r\n$1\r\n0\r\n"
    )


def test_read_reply_parses_every_resp2_type() -> None:
    stream = io.BytesIO(
        b"+OK\r\n-BUSYKEY exists\r\n:42\r\n$-1\r\n$5\r\na\r\nb\x00\r\n*2\r\n:1\r\n*1\r\n$0\r\n\r\n*-1\r\n"
    )
    assert read_reply(stream) == b"OK"
    err = read_reply(stream)
    assert isinstance(err, RespError) and str(err) == "BUSYKEY exists"
    assert read_reply(stream) == 42
    assert read_reply(stream) is None
    assert read_reply(stream) == b"a\r\nb\x00"
    assert read_reply(stream) == [1, [b""]]
    assert read_reply(stream) is None


@pytest.mark.parametrize("data", [b"", b"+OK", b"$5\r\nab\r\n", b"?x\r\n"])
def test_read_reply_fails_on_truncated_or_unknown_replies(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        read_reply(io.BytesIO(data))


def test_digest_ignores_the_order_of_unordered_collections_only() -> None:
    assert digest(b"set", [[b"a", b"b"]]) == digest(b"set", [[b"b", b"a"]])
    assert digest(b"hash", [[b"f", b"1", b"g", b"2"]]) == digest(b"hash", [[b"g", b"2", b"f", b"1"]])
    assert digest(b"list", [[b"a", b"b"]]) != digest(b"list", [[b"b", b"a"]])
    assert digest(b"hash", [[b"f", b"1", b"g", b"2"]]) != digest(b"hash", [[b"f", b"2", b"g", b"1"]])
    # Length-prefixed: element boundaries cannot shift without changing the digest.
    assert digest(b"list", [[b"ab", b"c"]]) != digest(b"list", [[b"a", b"bc"]])
    assert digest(b"string", [b"x"]) != digest(b"list", [[b"x"]])


def test_value_commands_cover_every_type_and_refuse_others() -> None:
    for kind in (b"string", b"hash", b"list", b"set", b"zset", b"stream"):
        assert value_commands(kind, b"k")
    with pytest.raises(Exception, match="type ReJSON-RL is not supported"):
        value_commands(b"ReJSON-RL", b"k")


def state(kind: bytes = b"string", pttl: int = -1, value: str = "d") -> KeyState:
    return KeyState(kind=kind, pttl=pttl, digest=value)


@pytest.mark.parametrize(
    ("src", "dst", "why"),
    [
        (state(), state(), None),
        (state(pttl=10_000), state(pttl=9_000), None),
        (state(pttl=10_000), state(pttl=7_999), "ttl 10000 ms vs 7999 ms (tolerance 2000 ms)"),
        (state(pttl=-1), state(pttl=5_000), "ttl -1 ms != 5000 ms"),
        (state(value="a"), state(value="b"), "value differs"),
        (state(kind=b"list"), state(kind=b"set"), "type list != set"),
        (state(), state(kind=b"none", pttl=-2), "missing"),
        # Expiring keys: gone on either side within the tolerance is a faithful copy.
        (state(pttl=50), state(kind=b"none", pttl=-2), None),
        (state(kind=b"none", pttl=-2), state(pttl=30), None),
        (state(kind=b"none", pttl=-2), state(pttl=-1), "gone from the source"),
    ],
)
def test_compare(src: KeyState, dst: KeyState, why: str | None) -> None:
    assert compare(src, dst, 2000) == why


def test_by_size_keeps_batches_under_the_budget_and_a_large_key_alone() -> None:
    keys = [b"a", b"b", b"big", b"c"]
    assert list(by_size(keys, [10, 10, 100, 10], 25)) == [[b"a", b"b"], [b"big"], [b"c"]]


def test_key_names_print_on_one_line_whatever_they_hold() -> None:
    assert show(b"new\nline \xff 'q'") == "\"new\\nline \\xff 'q'\""
    assert "\n" not in show(b"a\r\nb")
    assert first_keys([b"%d" % i for i in range(7)]) == "'0', '1', '2', '3', '4' and 2 more"


def test_arguments_require_a_marker_for_copy_and_patterns_for_reverse(capsys: pytest.CaptureFixture[str]) -> None:
    sides = [
        "--source-host=a",
        "--source-password-file=/p",
        "--target-host=b",
        "--target-password-file=/q",
    ]
    assert parse_args(["copy", *sides, "--marker=m"]).marker == "m"
    with pytest.raises(SystemExit):
        parse_args(["copy", *sides])
    assert "copy needs --marker" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["reverse", *sides])
    assert "only the app's keys go back" in capsys.readouterr().err


def test_restore_arguments_source_without_password_and_replace_needs_patterns(
    capsys: pytest.CaptureFixture[str],
) -> None:
    sides = ["--source-host=127.0.0.1", "--source-port=6390", "--target-host=b", "--target-password-file=/q"]
    args = parse_args(["restore", *sides, "--marker=m", "--match=a:*", "--replace"])
    assert args.source_password_file is None and args.replace and args.match == ["a:*"]
    with pytest.raises(SystemExit):
        parse_args(["restore", *sides])
    assert "restore needs --marker" in capsys.readouterr().err
    for bad in (["--replace"], ["--replace", "--match=*"], ["--replace", "--match=a:*", "--match=*"]):
        with pytest.raises(SystemExit):
            parse_args(["restore", *sides, "--marker=m", *bad])
        assert "--replace is for restore with explicit --match patterns" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["copy", *sides, "--marker=m", "--match=a:*", "--replace"])
    assert "--replace is for restore" in capsys.readouterr().err
    # The target's password stays required.
    with pytest.raises(SystemExit):
        parse_args(["restore", "--source-host=a", "--target-host=b", "--marker=m"])
    assert "--target-password-file" in capsys.readouterr().err


# -- the streaming copy's pure parts -----------------------------------------------------------------------------
FOOTER = b"\x0a\x00" + b"\x11" * 8  # RDB version 10 and a CRC64 (not checked here: Redis checks it on RESTORE)


def body(payload: bytes, footer: bytes = FOOTER) -> bytes:
    """A DUMP reply body as the program holds it: payload, version, CRC, CRLF."""
    return payload + footer + b"\r\n"


def test_key_arg_is_one_resp_bulk_string() -> None:
    assert key_arg(b"a\r\nb") == b"$4\r\na\r\nb\r\n"
    assert key_arg(b"") == b"$0\r\n\r\n"


@pytest.mark.parametrize(
    ("payload", "elements"),
    [
        # RDB_TYPE_SET (2): a length, then each member: plain (6-bit length), int8 (0xC0), int16 (0xC1), int32 (0xC2).
        (b"\x02\x04\x01b\x01a\xc0\x05\xc1\x00\x01", [b"256", b"5", b"a", b"b"]),
        (b"\x02\x01\xc2\xff\xff\xff\xff", [b"-1"]),
        # RDB_TYPE_HASH (4): field, value pairs, sorted by field.
        (b"\x04\x02\x01g\x012\x01f\x011", [b"f", b"1", b"g", b"2"]),
        # A 14-bit length (0x40 | high bits, low byte).
        (b"\x02\x01\x40\x03xyz", [b"xyz"]),
    ],
)
def test_unordered_elements_reads_hash_table_sets_and_hashes(payload: bytes, elements: list[bytes]) -> None:
    assert unordered_elements(body(payload)) == elements


@pytest.mark.parametrize(
    "payload",
    [
        b"\x00\x01a",  # a string
        b"\x02\x01\xc3\x03\x05\x00abc",  # an LZF-compressed member: only a logical read can tell
        b"\x02\x02\x01a",  # fewer members than its length says
        b"\x02\x01\x01a\x01b",  # more bytes than its members
        b"\x12\x01",  # another encoding (listpack set, 7.2+): its bytes compare as they are
        b"",
    ],
)
def test_unordered_elements_declines_anything_else(payload: bytes) -> None:
    assert unordered_elements(body(payload)) is None


def test_same_value_ignores_the_version_footer_and_hash_table_order_only() -> None:
    a = body(b"\x02\x02\x01a\x01b")
    assert same_value(a, body(b"\x02\x02\x01b\x01a"))  # another order
    assert same_value(a, body(b"\x02\x02\x01a\x01b", b"\x0c\x00" + b"\x22" * 8))  # another RDB version
    assert not same_value(a, body(b"\x02\x02\x01a\x01c"))
    assert not same_value(body(b"\x00\x01a"), body(b"\x00\x01b", b"\x0c\x00" + b"\x22" * 8))
    assert not same_value(a, body(b"\x02\x03\x01a\x01b\x01c"))


@pytest.mark.parametrize(
    ("src", "dst", "why"),
    [
        (-1, -1, None),
        (10_000, 8_001, None),
        (10_000, 7_999, "ttl 10000 ms vs 7999 ms (tolerance 2000 ms)"),
        (-1, 5_000, "ttl -1 ms != 5000 ms"),
        (5_000, -1, "ttl 5000 ms != -1 ms"),
        (5_000, RespError("NOPERM"), "PTTL: NOPERM"),
    ],
)
def test_ttl_difference(src: int, dst: int | RespError, why: str | None) -> None:
    assert ttl_difference(src, dst, 2000) == why


def test_bounded_keeps_the_first_few_and_counts_the_rest() -> None:
    b = Bounded()
    for i in range(8):
        b.add(b"k%d" % i)
    assert b.count == 8 and len(b.first) == SHOW_KEYS
    assert str(b) == "'k0', 'k1', 'k2', 'k3', 'k4' and 3 more"


def test_progress_prints_done_total_rate_and_eta(capsys: pytest.CaptureFixture[str]) -> None:
    p = Progress("copy", 1000, 0.0)
    p.start -= 2.0  # two seconds in
    p.tick(400, 8_000_000)
    line = capsys.readouterr().out.strip()
    assert line.startswith("copy: 400/1000 keys (40%), 8.0 MB, ")
    rate = int(line.split(", ")[2].split()[0])
    assert 150 <= rate <= 200  # 400 keys in a little over 2 s
    assert line.endswith(f"ETA {600 / rate:.0f}s")
    quiet = Progress("copy", 1000, 60.0)
    quiet.tick(10)
    assert capsys.readouterr().out == ""  # not before the interval


def test_a_ttl_of_zero_is_restored_as_one_millisecond() -> None:
    """RESTORE's TTL 0 means no expiry: a key read with 0 ms left must not live forever in the target."""
    sent: list[bytes] = []

    class Target:
        address = "t"

        def send(self, data: bytes) -> None:
            sent.append(data)

    copier = object.__new__(Copier)
    copier.replace = False
    copier.dst = Target()  # type: ignore[assignment]
    copier.restore(
        Group([Sent(key_arg(b"k"), 0, b"P\r\n"), Sent(key_arg(b"p"), -1, b"Q\r\n")], [key_arg(b"k"), key_arg(b"p")])
    )
    assert b"*4\r\n$7\r\nRESTORE\r\n$1\r\nk\r\n$1\r\n1\r\n$1\r\nP\r\n" in sent[0]
    assert b"*4\r\n$7\r\nRESTORE\r\n$1\r\np\r\n$1\r\n0\r\n$1\r\nQ\r\n" in sent[0]


def test_logical_writes_recreate_each_type_in_chunks() -> None:
    assert logical_writes(b"string", b"k", b"\x00v") == [["SET", b"k", b"\x00v"]]
    assert logical_writes(b"hash", b"h", [b"f", b"1", b"g", b"2"]) == [["HSET", b"h", b"f", b"1", b"g", b"2"]]
    assert logical_writes(b"zset", b"z", [b"a", b"1.5", b"b", b"-2"]) == [["ZADD", b"z", b"1.5", b"a", b"-2", b"b"]]
    members: list[Reply] = [b"%d" % i for i in range(2500)]
    chunks = logical_writes(b"set", b"s", members)
    assert [len(c) - 2 for c in chunks] == [1000, 1000, 500] and [x for c in chunks for x in c[2:]] == members
    pairs: list[Reply] = [x for i in range(1500) for x in (b"f%d" % i, b"v")]
    assert [len(c) - 2 for c in logical_writes(b"hash", b"h", pairs)] == [2000, 1000]  # whole pairs per command
    assert logical_writes(b"list", b"l", [b"b", b"a", b"b"]) == [["RPUSH", b"l", b"b", b"a", b"b"]]
