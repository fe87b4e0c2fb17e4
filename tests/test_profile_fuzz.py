"""Property test: any mutation of a valid profile is either valid or a clean contract error."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import base_profile

from agentd.errors import ContractError
from agentd.profile import LoadedProfile, parse_profile

EXAMPLES = int(os.environ.get("AGENTD_FUZZ_EXAMPLES", "1000"))
BASE = base_profile(Path("/srv/clones/acme"))

junk = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**40), max_value=2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=40)
    | st.sampled_from(["..", "/etc", "../..", "auto_merge", "npm ci", "ghp_" + "a" * 36, "\x00"]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


ALL_PATHS = [p for p in _paths(BASE) if p]


def _mutate(data: dict[str, Any], path: tuple[Any, ...], op: str, value: Any) -> None:
    parent: Any = data
    for part in path[:-1]:
        parent = parent[part]
    key = path[-1]
    if op == "delete":
        del parent[key]
    elif op == "replace":
        parent[key] = value
    elif op == "add" and isinstance(parent[key], dict):
        parent[key][str(value)[:12] or "x"] = value
    elif op == "add" and isinstance(parent[key], list):
        parent[key].append(value)
    elif op == "duplicate" and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[key]))
    else:
        parent[key] = value


def _check(text: str) -> None:
    try:
        result = parse_profile(text, Path("/fuzz/profile.yaml"))
    except ContractError as exc:
        assert exc.exit_code == 78
        assert "Traceback" not in str(exc)
        assert "invalid profile" in str(exc)
    else:
        assert isinstance(result, LoadedProfile)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    mutations=st.lists(
        st.tuples(
            st.sampled_from(ALL_PATHS),
            st.sampled_from(["delete", "replace", "add", "duplicate"]),
            junk,
        ),
        min_size=1,
        max_size=4,
    )
)
def test_structural_mutations_are_valid_or_clean_errors(
    mutations: list[tuple[tuple[Any, ...], str, Any]],
) -> None:
    data = copy.deepcopy(BASE)
    for path, op, value in mutations:
        try:
            _mutate(data, path, op, value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or reshaped this path
    _check(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


TEXT = yaml.safe_dump(BASE, sort_keys=False)


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    position=st.integers(min_value=0, max_value=len(TEXT)),
    cut=st.integers(min_value=0, max_value=20),
    insert=st.text(max_size=20),
)
def test_textual_mutations_are_valid_or_clean_errors(position: int, cut: int, insert: str) -> None:
    _check(TEXT[:position] + insert + TEXT[position + cut :])
