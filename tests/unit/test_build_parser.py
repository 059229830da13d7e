"""pyman/build: the Containerfile parser, variable expansion, ignore patterns, the stage plan."""

from __future__ import annotations

import pytest

from pyman.build.ignore import Matcher, parse_patterns
from pyman.build.parser import expand, key_values, parse, split_words
from pyman.build.plan import make_plan
from pyman.errors import ParseError, PymanError


def test_continuations_comments_heredocs_and_lines() -> None:
    cf = parse("# escape=\\\nFROM a\n\nRUN echo one \\\n# a comment\n    two\n"
               "COPY --chown=1:2 <<EOF /x\nbody $A\nEOF\nCMD [\"sh\", \"-c\"]\n")
    cmds = [(i.cmd, i.line) for i in cf.instructions]
    assert cmds == [("FROM", 2), ("RUN", 4), ("COPY", 7), ("CMD", 10)]
    assert cf.instructions[1].rest == "echo one     two"
    copy = cf.instructions[2]
    assert copy.flag("chown") == "1:2" and copy.heredocs[0].body == "body $A\n"
    assert copy.heredocs[0].expand and cf.instructions[3].json_args == ["sh", "-c"]


def test_escape_directive_and_errors() -> None:
    cf = parse("# escape=`\nFROM a\nRUN dir c:\\ `\n  && echo\n")
    assert cf.escape == "`" and cf.instructions[1].rest == "dir c:\\   && echo"
    with pytest.raises(ParseError, match="Containerfile:2: unknown instruction: BOGUS"):
        parse("FROM a\nBOGUS x\n")
    with pytest.raises(ParseError, match=":2: COPY does not take the flag --nope"):
        parse("FROM a\nCOPY --nope=1 a b\n")
    with pytest.raises(ParseError, match="never ended"):
        parse("FROM a\nRUN <<EOF\necho\n")


def test_words_and_expansion() -> None:
    env = {"A": "x y", "E": ""}
    assert split_words('a "$A" \'$A\' ${A:-d} ${E:-d} ${A:+set} ${E:+set}', env) == \
        ["a", "x y", "$A", "x y", "d", "set"]
    assert expand("/p/$A/${NOPE}", env) == "/p/x y/"
    assert key_values('k=v k2="a b" k3', {}, "ARG") == [("k", "v"), ("k2", "a b"), ("k3", "\0")]
    assert key_values("KEY some value", {}, "ENV") == [("KEY", "some value")]


def test_ignore_matches_like_docker() -> None:
    m = Matcher(parse_patterns("# c\ntest*\n!test2*\nsubdir1\nsubdir2\n!*/sub1*\n"
                               "!subdir1/sub3*\n**/*.log\n"))
    assert m.excluded("test1") and not m.excluded("test2.txt")
    assert m.excluded("subdir1/sub2") and not m.excluded("subdir1/sub3")
    assert m.walk_dir("subdir1") and not m.walk_dir("subdir2")
    assert m.excluded("a/b/c.log") and not m.excluded("comment")


def test_plan_args_targets_and_cycles() -> None:
    cf = parse("ARG B=base\nFROM $B AS one\nFROM scratch AS two\nCOPY --from=one /a /a\n"
               "FROM other AS three\n")
    plan = make_plan(cf, {"B": "img"}, None)
    assert plan.stages[0].base == "img" and plan.needed == [2]
    assert make_plan(cf, {}, "two").needed == [0, 1]
    with pytest.raises(ParseError, match=r"Containerfile:2: .*cycle"):
        make_plan(parse("FROM a\nCOPY --from=later /a /a\nFROM b AS later\n"), {}, None)
    with pytest.raises(ParseError, match="Containerfile:1: FROM \\$X uses the build argument X"):
        make_plan(parse("FROM $X\n"), {}, None)
    with pytest.raises(PymanError, match="no FROM"):
        make_plan(parse("ARG A=1\n"), {}, None)
    with pytest.raises(PymanError, match="target 'nope'"):
        make_plan(cf, {}, "nope")
