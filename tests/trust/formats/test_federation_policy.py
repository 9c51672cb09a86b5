"""Metadata policies of OpenID Federation 1.0 (:mod:`trust.formats.federation_policy`): each operator, the merge of a
superior's and a subordinate's policy, the combination rules, and the refusals with their codes."""

from __future__ import annotations

from typing import Any

import pytest

from trust.crypto.errors import Code, FederationError
from trust.formats import federation_policy as fp

RP = "openid_relying_party"


def apply(ops: dict[str, Any], metadata: dict[str, Any], name: str = "p") -> dict[str, Any]:
    policy = fp.check_policy({RP: {name: ops}})
    return fp.apply(policy, {RP: metadata})[RP]


def refused(code: Code, call: Any, *args: Any) -> FederationError:
    with pytest.raises(FederationError) as caught:
        call(*args)
    assert caught.value.code is code, caught.value
    return caught.value


@pytest.mark.parametrize(
    ("ops", "metadata", "expected"),
    [
        ({"value": "x"}, {}, {"p": "x"}),
        ({"value": "x"}, {"p": "y"}, {"p": "x"}),
        ({"value": None}, {"p": "y"}, {}),
        ({"add": ["b"]}, {"p": ["a"]}, {"p": ["a", "b"]}),
        ({"add": ["a"]}, {"p": ["a"]}, {"p": ["a"]}),
        ({"add": "b"}, {}, {"p": ["b"]}),
        ({"default": ["d"]}, {}, {"p": ["d"]}),
        ({"default": ["d"]}, {"p": ["x"]}, {"p": ["x"]}),
        ({"one_of": ["a", "b"]}, {"p": "b"}, {"p": "b"}),
        ({"one_of": ["a", "b"]}, {}, {}),
        ({"subset_of": ["a", "b"]}, {"p": ["b", "c", "a"]}, {"p": ["b", "a"]}),
        ({"subset_of": ["a"]}, {"p": ["c"]}, {"p": []}),  # empty, not removed (final spec, draft 42 onwards)
        ({"subset_of": ["a"]}, {}, {}),
        ({"superset_of": ["a"]}, {"p": ["a", "b"]}, {"p": ["a", "b"]}),
        ({"essential": True}, {"p": 1}, {"p": 1}),
        ({"essential": False}, {}, {}),
        ({"default": ["a"], "subset_of": ["a", "b"]}, {}, {"p": ["a"]}),
    ],
)
def test_each_operator(ops: dict[str, Any], metadata: dict[str, Any], expected: dict[str, Any]) -> None:
    assert apply(ops, metadata) == expected


@pytest.mark.parametrize(
    ("ops", "metadata"),
    [
        ({"one_of": ["a", "b"]}, {"p": "c"}),
        ({"superset_of": ["a", "z"]}, {"p": ["a"]}),
        ({"essential": True}, {}),
        ({"subset_of": ["a"]}, {"p": "a"}),  # subset_of needs an array parameter
        ({"add": ["b"]}, {"p": "a"}),
    ],
)
def test_metadata_the_policy_refuses(ops: dict[str, Any], metadata: dict[str, Any]) -> None:
    refused(Code.METADATA_POLICY_VIOLATION, apply, ops, metadata)


def test_the_input_metadata_is_not_changed() -> None:
    metadata = {RP: {"p": ["a", "c"]}}
    fp.apply(fp.check_policy({RP: {"p": {"subset_of": ["a"]}}}), metadata)
    assert metadata == {RP: {"p": ["a", "c"]}}


@pytest.mark.parametrize(
    "ops",
    [
        {"one_of": ["a"], "add": ["a"]},
        {"one_of": ["a"], "subset_of": ["a"]},
        {"value": "z", "one_of": ["a", "b"]},
        {"value": ["a", "z"], "subset_of": ["a"]},
        {"value": ["a"], "superset_of": ["a", "b"]},
        {"value": ["a"], "add": ["b"]},
        {"value": None, "essential": True},
        {"add": ["z"], "subset_of": ["a"]},
        {"subset_of": ["a"], "superset_of": ["b"]},
        {"one_of": []},
        {"essential": "yes"},
        {"subset_of": "a"},
    ],
)
def test_operators_that_do_not_combine(ops: dict[str, Any]) -> None:
    refused(Code.METADATA_POLICY_INVALID, fp.check_policy, {RP: {"p": ops}})


def test_merge_of_a_superior_and_a_subordinate_policy() -> None:
    anchor = fp.check_policy(
        {RP: {"grant_types": {"subset_of": ["authorization_code", "refresh_token"]}, "contacts": {"add": ["ops@a"]}}}
    )
    region = fp.check_policy(
        {
            RP: {
                "grant_types": {"subset_of": ["authorization_code", "implicit"]},
                "contacts": {"add": ["ops@zj"]},
                "token_endpoint_auth_method": {"one_of": ["private_key_jwt", "none"], "essential": True},
            }
        }
    )
    merged = fp.merge_chain([anchor, region])
    assert merged[RP]["grant_types"] == {"subset_of": ["authorization_code"]}
    assert merged[RP]["contacts"] == {"add": ["ops@a", "ops@zj"]}
    assert merged[RP]["token_endpoint_auth_method"]["essential"] is True
    result = fp.apply(
        merged,
        {RP: {"grant_types": ["authorization_code", "implicit"], "token_endpoint_auth_method": "private_key_jwt"}},
    )
    assert result[RP] == {
        "grant_types": ["authorization_code"],
        "token_endpoint_auth_method": "private_key_jwt",
        "contacts": ["ops@a", "ops@zj"],
    }


@pytest.mark.parametrize(
    ("superior", "subordinate"),
    [
        ({"value": "a"}, {"value": "b"}),
        ({"default": "a"}, {"default": "b"}),
        ({"one_of": ["a"]}, {"one_of": ["b"]}),
        ({"subset_of": ["a"]}, {"superset_of": ["b"]}),  # combined: superset_of outside subset_of
    ],
)
def test_policies_that_cannot_be_merged(superior: dict[str, Any], subordinate: dict[str, Any]) -> None:
    refused(
        Code.METADATA_POLICY_INVALID,
        fp.merge,
        fp.check_policy({RP: {"p": superior}}),
        fp.check_policy({RP: {"p": subordinate}}),
    )


def test_essential_true_of_a_superior_wins_and_subset_of_may_merge_to_empty() -> None:
    merged = fp.merge(
        fp.check_policy({RP: {"p": {"essential": True, "subset_of": ["a"]}}}),
        fp.check_policy({RP: {"p": {"essential": False, "subset_of": ["b"]}}}),
    )
    assert merged[RP]["p"] == {"essential": True, "subset_of": []}


def test_unknown_operators_are_ignored_unless_critical() -> None:
    assert fp.check_policy({RP: {"p": {"regexp": "^a", "essential": True}}}) == {RP: {"p": {"essential": True}}}
    refused(Code.METADATA_POLICY_INVALID, fp.check_policy, {RP: {"p": {"regexp": "^a"}}}, ["regexp"])


def test_a_policy_for_an_entity_type_the_entity_lacks_is_not_applied() -> None:
    policy = fp.check_policy({"openid_provider": {"issuer": {"essential": True}}})
    assert fp.apply(policy, {RP: {"client_name": "x"}}) == {RP: {"client_name": "x"}}
