"""Detach keys (Podman's format) and the monitor's relay over a real attach socket pair."""

from __future__ import annotations

import os
import socket

import pytest

from pyman.cli.attach_session import DetachKeys, parse_detach_keys
from pyman.errors import PymanError
from pyman.monitor.relay import Relay


@pytest.mark.parametrize(("text", "codes"), [
    ("ctrl-p,ctrl-q", b"\x10\x11"), ("", b""), ("a,b", b"ab"), ("ctrl-@", b"\x00"),
    ("ctrl-[,ctrl-_", b"\x1b\x1f"), ("ctrl-\\", b"\x1c"), ("DEL", b"\x7f"),
])
def test_parse_detach_keys(text: str, codes: bytes) -> None:
    assert parse_detach_keys(text) == codes


@pytest.mark.parametrize(("text", "bad"), [
    ("foo", "foo"), ("ctrl-x,", ""), ("ctrl-", "ctrl-"), ("ctrl-P", "ctrl-P"),
])
def test_parse_detach_keys_refused_as_podman(text: str, bad: str) -> None:
    with pytest.raises(PymanError) as exc:
        parse_detach_keys(text)
    assert str(exc.value) == f"invalid detach keys: Unknown character: '{bad}'"


def test_detach_keys_hold_back_a_prefix_and_pass_it_on_when_broken() -> None:
    d = DetachKeys(b"\x10\x11")
    assert d.feed(b"ab\x10") == (b"ab", False)  # ctrl-p held back
    assert d.feed(b"c") == (b"\x10c", False)  # not the sequence after all
    assert d.feed(b"\x10\x10") == (b"\x10", False)  # the second may begin it again
    assert d.feed(b"\x11rest") == (b"", True)
    assert DetachKeys(b"").feed(b"\x10\x11") == (b"\x10\x11", False)
    assert DetachKeys(b"q").feed(b"abqz") == (b"ab", True)


def test_relay_output_stdin_exit_to_attach_clients() -> None:
    out_r, out_w = os.pipe()
    in_r, in_w = os.pipe()
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    relay = Relay(None, {out_r: "stdout"}, stdin=in_w, clients=[theirs.detach()])
    mine.send(b"0hello")
    mine.send(b"e")  # end of input: the container's stdin pipe is closed
    os.write(out_w, b"line\n")
    os.close(out_w)
    assert relay.run() is True  # every output ended
    assert os.read(in_r, 100) == b"hello" and os.read(in_r, 100) == b""
    relay.finish(3)
    assert [mine.recv(100) for _ in range(3)] == [b"1line\n", b"x3", b""]
    os.close(in_r)
    mine.close()


def test_relay_hands_over_its_fds_by_arguments() -> None:
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    in_r, in_w = os.pipe()
    relay = Relay(None, {out_r: "stdout", err_r: "stderr"}, {"stdout": 1}, stdin=in_w)
    args = relay.handover()
    assert all(os.get_inheritable(fd) for fd in (out_r, err_r, in_w))  # survive the exec
    back = Relay.from_args(args, None)
    assert (back.outputs, back.direct, back.listen, back.stdin, back.master) == (
        {out_r: "stdout", err_r: "stderr"}, {"stdout": 1}, -1, in_w, -1)
    for fd in (out_r, out_w, err_r, err_w, in_r, in_w):
        os.close(fd)
