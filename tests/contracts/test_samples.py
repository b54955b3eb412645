"""Every published event and command version has a golden sample that still decodes (style rule 4).

A stored event is never edited: a new schema version needs an upcaster, and its old sample must keep
decoding. The samples are also what docs/events.md shows.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contracts import codec, commands, events, subjects
from contracts.base import CommandEnvelope, Envelope

pytestmark = pytest.mark.unit
SAMPLES = Path(__file__).parent / "samples"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def test_every_event_type_has_a_sample() -> None:
    names = {p.name for p in SAMPLES.glob("*.json")}
    for cls in events.ALL:
        assert f"{cls.TYPE}.v{cls.SCHEMA_VERSION}.json" in names
    for cmd in commands.ALL:
        assert f"command.{cmd.TYPE}.v{cmd.SCHEMA_VERSION}.json" in names


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.json")), ids=lambda p: p.name)
def test_sample_decodes_and_keeps_its_subject(path: Path) -> None:
    sample = json.loads(path.read_text())
    if path.name.startswith("command."):
        env = CommandEnvelope.model_validate(sample["envelope"])
        cmd = codec.decode_command(env)
        assert subjects.for_command(type(cmd)) == sample["subject"]
        return
    envelope = Envelope.model_validate(sample["envelope"])
    codec.decode(envelope)
    assert subjects.for_event(envelope) == sample["subject"]


def test_docs_list_every_event_and_command() -> None:
    text = DOCS.read_text()
    for cls in events.ALL:
        assert f"`{cls.TYPE}`" in text, f"docs/events.md does not describe {cls.TYPE}"
    for cmd in commands.ALL:
        assert f"`{subjects.for_command(cmd)}`" in text
