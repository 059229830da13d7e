from dataclasses import dataclass

import pytest

from pyman.cli.template import Template, render_list, tabwrite
from pyman.errors import TemplateError


@dataclass
class Img:
    Repository: str
    Tag: str
    Labels: dict[str, str]


def test_fields_nested_and_pipelines() -> None:
    data = {"Name": "web", "State": {"Status": "running", "Pid": 42}, "Tags": ["a", "b"]}
    assert Template("{{.Name}} {{.State.Status}}").render(data) == "web running"
    assert Template("{{json .State}}").render(data) == '{"Status":"running","Pid":42}'
    assert Template("{{.State | json}}").render(data) == '{"Status":"running","Pid":42}'
    assert Template("{{upper .Name}}/{{.Name | upper}}").render(data) == "WEB/WEB"
    assert Template("{{len .Tags}} {{join .Tags \",\"}}").render(data) == "2 a,b"
    assert Template("{{.Tags}}").render(data) == "[a b]"


def test_index_range_if_with_and_else() -> None:
    img = Img("alpine", "latest", {"k": "v"})
    assert Template('{{index .Labels "k"}}').render(img) == "v"
    assert Template("{{range .}}<{{.}}>{{end}}").render([1, 2]) == "<1><2>"
    assert Template("{{range .}}x{{else}}none{{end}}").render([]) == "none"
    assert Template("{{if .Tag}}t={{.Tag}}{{else}}no tag{{end}}").render(img) == "t=latest"
    assert Template("{{if .Labels.missing}}y{{end}}").render({"Labels": {"missing": ""}}) == ""
    assert Template("{{with .Labels}}{{.k}}{{end}}").render(img) == "v"
    assert Template("{{printf \"%s:%d\" .Tag 3}}").render(img) == "latest:3"


def test_missing_field_is_a_one_line_error() -> None:
    with pytest.raises(TemplateError) as exc:
        Template("{{.Nope}}").render(Img("a", "b", {}))
    msg = str(exc.value)
    assert "can't evaluate field Nope in type Img" in msg and "\n" not in msg
    with pytest.raises(TemplateError):
        Template("{{if .A}}x").render({"A": 1})
    with pytest.raises(TemplateError):
        Template("{{nofunc .A}}").render({"A": 1})


def test_table_header_escapes_and_alignment() -> None:
    items = [{"Repository": "docker.io/library/alpine", "Tag": "latest"},
             {"Repository": "x", "Tag": "1"}]
    out = render_list("table {{.Repository}}\\t{{.Tag}}", items, {"Repository": "REPOSITORY"})
    assert out.splitlines() == [
        "REPOSITORY                TAG",
        "docker.io/library/alpine  latest",
        "x                         1",
    ]
    assert render_list("{{.Tag}}", items) == "latest\n1"
    assert Template("table {{.CreatedAt}}").header() == "CREATED AT"
    assert tabwrite(["a\tb", "ccc\td"]) == "a           b\nccc         d"
    # as Podman: in a table, a space between fields is a column break (not inside actions)
    spaced = render_list('table {{.Repository}} {{printf "%s %s" .Tag "x"}}', items)
    assert spaced.splitlines()[1:] == ["docker.io/library/alpine  latest x",
                                       "x                         1 x"]
