"""Metadata policies of OpenID Federation 1.0 (clause 6.1, "Metadata Policy"): the seven standard operators,
the merge of a superior's policy with a subordinate's (clause 6.1.4.1) and their application to an entity's
metadata (clause 6.1.4.2).

A policy is ``{entity type: {metadata parameter: {operator: operand}}}``; Huren's anchor uses it to bound what a
region's OpenID Provider may claim (``huren_regions_supported`` ⊆ its own region, ``acr_values_supported`` ⊆ the
levels it was certified for, ``scopes_supported`` and ``claims_supported`` ⊆ what it may release) and what a relying
service may ask for.

Operators, in the order they are applied (clause 6.1.3.1):

===============  ==========  ======================================================================================
operator         kind        effect on the parameter
===============  ==========  ======================================================================================
``value``        modifier    set to the operand; ``null`` removes the parameter
``add``          modifier    the operand's values appended to the array (created if absent), no duplicates
``default``      modifier    the operand if the parameter is absent
``one_of``       check       if present, must be one of the operand's values
``subset_of``    both        if present, becomes its intersection with the operand (may become ``[]``)
``superset_of``  check       if present, must contain every value of the operand
``essential``    check       ``true``: the parameter must be present
===============  ==========  ======================================================================================

Merging (a superior's policy over a subordinate's, trust anchor first): ``value`` and ``default`` must be equal,
``add`` and ``superset_of`` are united, ``one_of`` intersected (never empty), ``subset_of`` intersected (may be
empty), ``essential`` is true if either says so. The merged operators of one parameter must then be consistent
(clause 6.1.3.2: ``value`` inside ``one_of``/``subset_of`` and over ``superset_of``, ``add`` inside
``subset_of``, ``superset_of`` inside ``subset_of``, ``one_of`` not with ``add``/``subset_of``/``superset_of``,
``essential: true`` not with ``value: null``). The semantics are those of the final specification (draft 42 onwards:
an empty ``subset_of`` intersection empties the parameter instead of removing it).

Operators other than the seven are refused when the statement lists them in ``metadata_policy_crit`` and ignored
otherwise (clause 6.1.3.3). Failures raise :class:`~trust.crypto.errors.FederationError` with
``metadata-policy-invalid`` (policies that cannot be combined) or ``metadata-policy-violation`` (metadata the
policy refuses), naming the entity type, the parameter and the operator. Pure code: JSON in, JSON out.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from trust.crypto.errors import Code, FederationError

OPERATORS: Final = ("value", "add", "default", "one_of", "subset_of", "superset_of", "essential")
"""The standard operators in the order they are applied."""

Policy = dict[str, dict[str, dict[str, Any]]]

_ABSENT: Final = object()


def _key(value: Any) -> str:
    """A hashable, order-stable identity for a JSON value (sets of JSON values compare by it)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _union(first: Sequence[Any], second: Sequence[Any]) -> list[Any]:
    seen = {_key(v) for v in first}
    result = list(first)
    for value in second:
        if _key(value) not in seen:
            seen.add(_key(value))
            result.append(value)
    return result


def _intersection(first: Sequence[Any], second: Sequence[Any]) -> list[Any]:
    keep = {_key(v) for v in second}
    return [v for v in first if _key(v) in keep]


def _contains_all(container: Sequence[Any], values: Sequence[Any]) -> bool:
    have = {_key(v) for v in container}
    return all(_key(v) in have for v in values)


def _invalid(where: str, message: str) -> FederationError:
    return FederationError(f"metadata policy {where}: {message}", code=Code.METADATA_POLICY_INVALID)


def _violation(where: str, message: str, evidence: Mapping[str, Any] | None = None) -> FederationError:
    return FederationError(
        f"metadata {where}: {message}", code=Code.METADATA_POLICY_VIOLATION, evidence=dict(evidence or {})
    )


def check_operators(operators: Any, where: str, critical: Sequence[str] = ()) -> dict[str, Any]:
    """The standard operators of one parameter's policy, after checking their operand types and that they combine
    (clause 6.1.3.2); an unknown operator is refused if ``critical`` names it and dropped otherwise."""
    if not isinstance(operators, Mapping):
        raise _invalid(where, "the policy of a parameter must be a JSON object of operators")
    known: dict[str, Any] = {}
    for name, operand in operators.items():
        if name in OPERATORS:
            known[name] = operand
        elif name in critical:
            raise _invalid(where, f"operator {name!r} is critical (metadata_policy_crit) and not understood")
    for name in ("one_of", "subset_of", "superset_of"):
        if name in known and not isinstance(known[name], list):
            raise _invalid(where, f"{name} needs a JSON array")
    if "one_of" in known and not known["one_of"]:
        raise _invalid(where, "one_of needs at least one value")
    if "essential" in known and not isinstance(known["essential"], bool):
        raise _invalid(where, "essential needs true or false")
    if "add" in known and known["add"] is None:
        raise _invalid(where, "add needs a value")
    _check_combination(known, where)
    return known


def _check_combination(ops: Mapping[str, Any], where: str) -> None:
    """The combination rules of clause 6.1.3.2 for the operators of one parameter."""
    if "one_of" in ops and any(name in ops for name in ("add", "subset_of", "superset_of")):
        raise _invalid(where, "one_of (one value) cannot be combined with add, subset_of or superset_of (arrays)")
    if "value" in ops:
        value = ops["value"]
        if value is None:
            if ops.get("essential") is True:
                raise _invalid(where, "value null removes a parameter that essential requires")
        else:
            values = _as_list(value)
            if "add" in ops and not _contains_all(values, _as_list(ops["add"])):
                raise _invalid(where, "value does not contain the values of add")
            if "one_of" in ops and _key(value) not in {_key(v) for v in ops["one_of"]}:
                raise _invalid(where, "value is not one of one_of")
            if "subset_of" in ops and not _contains_all(ops["subset_of"], values):
                raise _invalid(where, "value is not a subset of subset_of")
            if "superset_of" in ops and not _contains_all(values, ops["superset_of"]):
                raise _invalid(where, "value is not a superset of superset_of")
    if "add" in ops and "subset_of" in ops and not _contains_all(ops["subset_of"], _as_list(ops["add"])):
        raise _invalid(where, "add contains values outside subset_of")
    if "subset_of" in ops and "superset_of" in ops and not _contains_all(ops["subset_of"], ops["superset_of"]):
        raise _invalid(where, "superset_of is not a subset of subset_of")


def _merge_operators(superior: Mapping[str, Any], subordinate: Mapping[str, Any], where: str) -> dict[str, Any]:
    merged = dict(subordinate)
    for name, operand in superior.items():
        if name not in merged:
            merged[name] = operand
            continue
        mine = merged[name]
        if name in ("value", "default"):
            if _key(operand) != _key(mine):
                raise _invalid(where, f"{name} {operand!r} of the superior conflicts with {mine!r} of the subordinate")
        elif name in ("add", "superset_of"):
            merged[name] = _union(_as_list(operand), _as_list(mine))
        elif name == "one_of":
            both = _intersection(operand, mine)
            if not both:
                raise _invalid(where, "the one_of of the superior and the subordinate have no value in common")
            merged[name] = both
        elif name == "subset_of":
            merged[name] = _intersection(operand, mine)
        elif name == "essential":
            merged[name] = bool(operand) or bool(mine)
    _check_combination(merged, where)
    return merged


def check_policy(policy: Any, critical: Sequence[str] = ()) -> Policy:
    """A statement's ``metadata_policy`` after the checks of :func:`check_operators` for every parameter."""
    if policy is None:
        return {}
    if not isinstance(policy, Mapping):
        raise _invalid("", "metadata_policy must be a JSON object")
    checked: Policy = {}
    for entity_type, parameters in policy.items():
        if not isinstance(parameters, Mapping):
            raise _invalid(entity_type, "the policy of an entity type must be a JSON object")
        checked[entity_type] = {
            name: check_operators(ops, f"{entity_type}.{name}", critical) for name, ops in parameters.items()
        }
    return checked


def merge(superior: Mapping[str, Any], subordinate: Mapping[str, Any]) -> Policy:
    """The superior's policy merged with the subordinate's (clause 6.1.4.1); both already checked."""
    merged: Policy = {t: {n: dict(ops) for n, ops in params.items()} for t, params in subordinate.items()}
    for entity_type, parameters in superior.items():
        target = merged.setdefault(entity_type, {})
        for name, ops in parameters.items():
            where = f"{entity_type}.{name}"
            target[name] = _merge_operators(ops, target[name], where) if name in target else dict(ops)
    return merged


def merge_chain(policies: Sequence[Mapping[str, Any]]) -> Policy:
    """The policies of a trust chain merged, trust anchor's first (``policies[0]``), down to the leaf's superior."""
    result: Policy = {}
    for policy in policies:
        result = merge(result, policy) if result else {t: dict(p) for t, p in policy.items()}
    return result


def _apply_parameter(metadata: dict[str, Any], name: str, ops: Mapping[str, Any], where: str) -> None:
    current: Any = metadata.get(name, _ABSENT)
    if "value" in ops:
        if ops["value"] is None:
            metadata.pop(name, None)
        else:
            metadata[name] = copy.deepcopy(ops["value"])
        current = metadata.get(name, _ABSENT)
    if "add" in ops:
        if current is not _ABSENT and not isinstance(current, list):
            raise _violation(where, "add needs an array parameter", {"found": current})
        metadata[name] = _union(current if isinstance(current, list) else [], _as_list(ops["add"]))
        current = metadata[name]
    if "default" in ops and current is _ABSENT and ops["default"] is not None:
        metadata[name] = copy.deepcopy(ops["default"])
        current = metadata[name]
    if current is not _ABSENT:
        if "one_of" in ops and _key(current) not in {_key(v) for v in ops["one_of"]}:
            raise _violation(where, f"{current!r} is not one of {ops['one_of']!r}", {"found": current})
        if "subset_of" in ops:
            if not isinstance(current, list):
                raise _violation(where, "subset_of needs an array parameter", {"found": current})
            metadata[name] = _intersection(current, ops["subset_of"])
            current = metadata[name]
        if "superset_of" in ops:
            if not isinstance(current, list):
                raise _violation(where, "superset_of needs an array parameter", {"found": current})
            if not _contains_all(current, ops["superset_of"]):
                raise _violation(
                    where, f"{current!r} lacks values of {ops['superset_of']!r}", {"expected": ops["superset_of"]}
                )
    if ops.get("essential") is True and name not in metadata:
        raise _violation(where, "is essential and absent")


def apply(policy: Mapping[str, Any], metadata: Mapping[str, Any]) -> dict[str, Any]:
    """``metadata`` (``{entity type: {parameter: value}}``) with the merged ``policy`` applied (clause 6.1.4.2).

    The result is a new object; the input is not changed. A policy for an entity type the metadata lacks is not
    applied (the entity is not of that type)."""
    result: dict[str, Any] = copy.deepcopy(dict(metadata))
    for entity_type, parameters in policy.items():
        if entity_type not in result:
            continue
        section = result[entity_type]
        if not isinstance(section, dict):
            raise _violation(entity_type, "the metadata of an entity type must be a JSON object")
        for name, ops in parameters.items():
            _apply_parameter(section, name, ops, f"{entity_type}.{name}")
    return result
