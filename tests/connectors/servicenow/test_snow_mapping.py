"""Row mapping: the fast paths of `to_record` / `audit_changes` (plain strings, exact
timestamps) give exactly what the general paths give, and every other shape still takes the
general path (quarantine reasons included). Payloads: one compact sorted-key text whichever
encoder writes it."""

from __future__ import annotations

import json

import pytest

from connectors.servicenow import records
from connectors.servicenow.history import _audit_row, audit_changes
from connectors.servicenow.records import Quarantined, _to_record, dumps_payload, to_record
from connectors.servicenow.settings import ServiceNowSettings

SETTINGS = ServiceNowSettings(url="https://acme.service-now.com", user="u", password="p")


def _incident(**extra: object) -> dict:
    row = {
        "sys_id": "a" * 32,
        "number": "INC0000001",
        "short_description": "Mail down ü",
        "state": "2",
        "priority": "3",
        "category": "",
        "assignment_group": "g" * 32,
        "assignment_group.name": "Service Desk",
        "opened_at": "2024-01-01 08:00:00",
        "sys_created_on": "2024-01-01 08:00:00",
        "sys_updated_on": "2024-01-02 09:30:00",
        "sys_mod_count": "4",
        "parent_incident": "b" * 32,
        "parent_incident.number": "",
        "problem_id": "",
        "parent": "",
    }
    row.update(extra)
    return row


RECORD_SHAPES = [
    {},
    {"sys_created_on": "2024-01-01 07:00:00"},  # differs from opened_at
    {"opened_at": "", "sys_created_on": ""},
    {"opened_at": None},
    {"sys_id": " " + "a" * 31},  # whitespace around a reference: stripped
    {"sys_id": {"value": "c" * 32, "link": "x"}},  # a reference object
    {"number": {"value": "INC9", "display_value": "INC9"}},
    {"state": ""},  # quarantined: missing state
    {"number": ""},
    {"sys_updated_on": "2024-13-02 09:30:00"},  # quarantined: unparseable
    {"sys_updated_on": "2024-01-02T09:30:00"},  # not the raw shape: strict path refuses
    {"opened_at": "yesterday"},
    {"sys_created_on": {"value": "2024-01-01 08:00:00"}},
    {"priority": 3, "sys_mod_count": "x", "short_description": None},
    {"assignment_group": {"value": "", "link": ""}, "assignment_group.name": ""},
    {"parent_incident.number": "INC0000002"},
]


@pytest.mark.parametrize("extra", RECORD_SHAPES)
def test_to_record_fast_path_equals_the_general_path(extra):
    row = _incident(**extra)
    fast, general = to_record("incident", row, SETTINGS), _to_record("incident", row, SETTINGS)
    assert fast == general
    if isinstance(fast, Quarantined):
        assert json.loads(fast.payload) == row


def _audit(**extra: object) -> dict:
    row = {
        "sys_id": "f" * 32,
        "tablename": "incident",
        "documentkey": "a" * 32,
        "fieldname": "state",
        "oldvalue": "1",
        "newvalue": "2",
        "record_checkpoint": "3",
        "user": "itil",
        "reason": "",
        "sys_created_on": "2024-01-02 10:11:12",
    }
    row.update(extra)
    return row


AUDIT_SHAPES = [
    {},
    {"fieldname": "incident_state"},
    {"fieldname": ""},
    {"oldvalue": ""},
    {"record_checkpoint": ""},
    {"record_checkpoint": "-1"},
    {"record_checkpoint": " 7"},
    {"record_checkpoint": "x"},
    {"user": None},
    {"documentkey": ""},
    {"sys_id": " "},
    {"documentkey": {"value": "d" * 32}},
    {"sys_created_on": ""},
    {"sys_created_on": "2024-02-30 10:11:12"},
    {"fieldname": {"value": "state"}},
    {"newvalue": 6},
]


@pytest.mark.parametrize("extra", AUDIT_SHAPES)
def test_audit_fast_path_equals_the_general_path(extra):
    row = _audit(**extra)
    fast = audit_changes("incident", [row, dict(row)])  # the repeat is dropped both ways
    seen: set = set()
    out: list = []
    bad: list = []
    _audit_row("incident", row, seen, out, bad)
    _audit_row("incident", dict(row), seen, out, bad)
    assert fast == (out, bad)


def test_payload_text_is_the_same_whichever_encoder():
    row = {"b": 'ü\u2028"x"', "a": {"z": "1", "y": ["", None, True]}, "c": "\x01/"}
    assert dumps_payload(row) == records._std_dumps(row)
    assert json.loads(dumps_payload(row)) == row
    huge = {"n": 2**70, "a": "é"}  # orjson refuses integers beyond 64 bits
    assert dumps_payload(huge) == '{"a":"é","n":1180591620717411303424}'
