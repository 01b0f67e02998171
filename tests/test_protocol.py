"""The host-box contract: frames, typed decoding, bundles, and their bounds."""
from __future__ import annotations

import runpy

import pytest

from grader.boxes import bootstrap as box_bootstrap
from grader.boxes import protocol
from grader.boxes.protocol import CaseFrame, FrameReader, IdleStop, ProtocolError, RunEnded


def test_frames_survive_any_split_of_the_stream():
    frames = [CaseFrame(name="a", raised=False, not_arrays={"x": "NoneType"}), RunEnded(
        run=0, returncode=None, signal=9, timed_out=False, seconds=1.5, cpu_seconds=1)]
    stream = protocol.encode_frame(frames[0], b"payload") + protocol.encode_frame(frames[1])
    for cut in range(len(stream)):
        reader = FrameReader()
        got = reader.feed(stream[:cut]) + reader.feed(stream[cut:])
        assert got == [(frames[0], b"payload"), (frames[1], b"")] and reader.pending == 0
    assert got[1][0].cpu_seconds == 1.0 and isinstance(got[1][0].cpu_seconds, float)


@pytest.mark.parametrize("data, match", [
    (b"x" * 60, "does not start with its sizes"),
    (b"12 abc\n", "does not start with its sizes"),
    (b"999999999 0\n", "too large"),
    (b"10 999999999999\n", "too large"),
    (b"2 0\n{}", "unknown frame kind"),
    (b'16 0\n{"kind": "nope"}', "unknown frame kind"),
    (b"4 0\nnull", "unknown frame kind"),
    (b"3 0\n{x}", "not JSON"),
])
def test_malformed_streams_are_protocol_errors(data, match):
    with pytest.raises(ProtocolError, match=match):
        FrameReader().feed(data)


@pytest.mark.parametrize("fields, match", [
    ({"name": 1, "raised": False}, "CaseFrame.name"),
    ({"name": "a", "raised": "no"}, "CaseFrame.raised"),
    ({"name": "a", "raised": False, "memory_error": 1}, "memory_error"),
    ({"name": "a", "raised": False, "seconds": True}, "seconds"),
    ({"name": "a", "raised": False, "not_arrays": {"x": 3}}, "not_arrays"),
    ({"name": "a", "raised": False, "figures": {"x": "1"}}, "figures"),
    ({"name": "a"}, "raised"),
    ({"name": "a", "raised": False, "extra": 1}, "unknown fields"),
])
def test_every_field_is_checked(fields, match):
    with pytest.raises(ProtocolError, match=match):
        protocol.from_dict(CaseFrame, fields)


def test_an_idle_stop_travels_checked_like_every_field():
    ended = RunEnded(run=0, returncode=None, signal=None, timed_out=False, seconds=4.2,
                     cpu_seconds=0.5, idle=IdleStop(window_seconds=3.1, cpu_seconds=0.01))
    ((got, _),) = FrameReader().feed(protocol.encode_frame(ended))
    assert got == ended
    fields = protocol.to_dict(ended)
    for idle in ({"window_seconds": "3", "cpu_seconds": 0}, {"window_seconds": 3}, True, [],
                 {"window_seconds": 3, "cpu_seconds": 0, "why": "x"}):
        with pytest.raises(ProtocolError, match="RunEnded.idle"):
            protocol.from_dict(RunEnded, {**fields, "idle": idle})


def test_a_child_may_send_only_case_frames():
    reader = FrameReader(kinds={CaseFrame.kind: CaseFrame})
    with pytest.raises(ProtocolError, match="unknown frame kind 'done'"):
        reader.feed(protocol.encode_frame(protocol.Done(seconds=1)))


def test_a_reader_of_one_kind_passes_over_the_others_unchecked_but_not_bad_framing():
    reader = FrameReader(kinds={protocol.NeedInputs.kind: protocol.NeedInputs},
                         others_skipped=True)
    wanted = protocol.NeedInputs(visibility="hidden")
    stream = (protocol.encode_frame(protocol.Done(seconds=1)) + b'16 3\n{"kind": "nope"}abc' +
              protocol.encode_frame(wanted))
    assert reader.feed(stream) == [(wanted, b"")] and reader.pending == 0
    with pytest.raises(ProtocolError, match="not JSON"):
        reader.feed(b"3 0\n{x}")


def test_the_bootstrap_reads_back_what_the_host_bundles():
    files = {"runtime/grader/boxes/protocol.py": b"x = 1\n", "inputs/public/a/b.npz": bytes(range(256)),
             "request.json": b"{}"}
    encoded = protocol.encode_bundle(files)
    size, body = encoded.split(b"\n", 1)
    assert int(size) == len(body) and box_bootstrap.decode(body) == files


def test_a_bundle_path_that_leaves_the_box_is_refused():
    body = protocol.encode_bundle({"../escape": b""}).split(b"\n", 1)[1]
    with pytest.raises(ValueError, match="leaves the box directory"):
        box_bootstrap.decode(body)


def test_the_bootstrap_runs_nothing_when_imported():
    namespace = runpy.run_path(box_bootstrap.__file__, run_name="grader.boxes.bootstrap")
    assert "main" in namespace


def test_the_box_side_knows_no_section():
    """A section kind hands its box everything through generic fields (an entry point, data
    files by role, limits): no module of the box side names a section or its kind."""
    from pathlib import Path

    boxes = Path(box_bootstrap.__file__).parent
    named = {path.name for path in boxes.glob("*.py")
             for word in ("mnist", "relu", "softmax", "momentum")
             if word in path.read_text(encoding="utf-8").lower()}
    assert named == set()
