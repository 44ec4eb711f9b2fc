import pytest

from replayqa.errors import TemplateError
from replayqa.templates import PathNotFound, references, render, resolve_path

SCOPE = {"token": "abc", "steps": {"create_item": {"body": {"id": 5, "tags": ["a", "b"]}}}}


def test_a_whole_string_template_keeps_the_value_type():
    assert render("{{ steps.create_item.body.id }}", SCOPE) == 5
    assert render({"ids": ["{{ steps.create_item.body.id }}"]}, SCOPE) == {"ids": [5]}


def test_templates_inside_larger_strings():
    assert render("/items/{{ steps.create_item.body.id }}/tags", SCOPE) == "/items/5/tags"
    assert render("Bearer {{token}}", SCOPE) == "Bearer abc"
    assert render("{{ steps.create_item.body.tags[1] }}!", SCOPE) == "b!"


def test_unknown_first_name_is_a_journey_error_listing_known_names():
    with pytest.raises(
        TemplateError, match=r"unknown template reference \{\{ tokn \}\}; known: steps, token"
    ):
        render("{{ tokn }}", SCOPE)


def test_missing_data_deeper_down_is_a_runtime_finding():
    with pytest.raises(PathNotFound, match=r"\$\.steps\.create_item\.body has no field 'name'"):
        render("{{ steps.create_item.body.name }}", SCOPE)


@pytest.mark.parametrize(
    ("path", "value"),
    [("$.a[0].b", 1), ("a.0.b", 1), ("$", {"a": [{"b": 1}]}), ("a[-1].b", 1)],
)
def test_paths(path, value):
    assert resolve_path({"a": [{"b": 1}]}, path) == value


def test_out_of_range_index():
    with pytest.raises(PathNotFound, match=r"\$\.a has no element \[3\]"):
        resolve_path({"a": [1]}, "a[3]")


def test_references_are_found_in_nested_values():
    assert references({"h": "Bearer {{ token }}", "b": ["{{ steps.x.body.id }}", 3]}) == [
        "token",
        "steps.x.body.id",
    ]
