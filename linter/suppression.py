"""`# noqa` comments: line-level (`# noqa`, `# noqa: EPL101, epochs-attribute`), file-level
(`# epochlint: noqa`, `# epochlint: noqa: EPL2`) and `EPL900 unused-noqa` for codes that
suppress nothing. Comments are found with `tokenize`, so `# noqa` inside a string is not one.
"""
from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass
from typing import Optional

from linter.finding import Edit, Finding, Fix

_LINE_NOQA = re.compile(r"#\s*noqa(?![\w-])(?P<colon>:)?", re.IGNORECASE)
_CODE_ITEM = re.compile(r"[,\s]*(?P<token>[A-Za-z0-9_\-]+)")
_OTHER_TOOLS_CODE = re.compile(r"[A-Za-z]+[0-9]+")
_FILE_NOQA = re.compile(r"#\s*epochlint:\s*noqa(?::\s*(?P<codes>[A-Za-z0-9_\-]+(?:[,\s]+[A-Za-z0-9_\-]+)*))?\s*$", re.IGNORECASE)
_TOKEN = re.compile(r"[A-Za-z0-9_\-]+")
_NEWLINE = re.compile(r"\r\n|\r|\n")


def source_lines(text: str) -> list[str]:
    """Lines as the tokenizer and libcst count them: str.splitlines() would also split at form
    feeds and other separators Python allows inside a line, shifting every line after them."""
    return _NEWLINE.split(text)


@dataclass
class LineNoqa:
    line: int
    column: int  # 1-based column of the "#"
    comment: str  # the whole comment token
    match_start: int  # offsets of the noqa directive inside `comment`
    match_end: int
    codes: Optional[list[tuple[str, str]]]  # None = bare; else (token as written, code)


@dataclass
class Directives:
    lines: dict[int, LineNoqa]
    file_all: bool
    file_codes: list[str]


def _comments(text: str) -> list[tuple[int, int, str]]:
    try:
        return [
            (tok.start[0], tok.start[1] + 1, tok.string)
            for tok in tokenize.generate_tokens(io.StringIO(text, newline=None).readline)  # \r lines too
            if tok.type == tokenize.COMMENT
        ]
    except (tokenize.TokenError, SyntaxError, IndentationError):
        out = []
        for n, line in enumerate(source_lines(text), 1):
            i = line.find("#")
            if i >= 0:
                out.append((n, i + 1, line[i:]))
        return out


def _codes_after(comment: str, at: int) -> tuple[list[tuple[str, str]], int]:
    """The codes listed after `# noqa:` and where the list ends: tokens that are codes (ours or
    another tool's, such as E501) or our rule names. The first other word ends the list, so
    `# noqa: EPL101 some words` keeps "some words" as the comment's own text."""
    from linter.rules import code_for

    codes: list[tuple[str, str]] = []
    end = at
    while True:
        m = _CODE_ITEM.match(comment, end)
        if not m:
            break
        tok = m.group("token")
        c = code_for(tok)
        if c is None and not _OTHER_TOOLS_CODE.fullmatch(tok):
            break
        codes.append((tok, c or tok.upper()))
        end = m.end()
    return codes, end  # `# noqa:` followed by no code suppresses nothing (not a bare noqa)


def parse_directives(text: str) -> Directives:
    from linter.rules import code_for

    lines: dict[int, LineNoqa] = {}
    file_all = False
    file_codes: list[str] = []
    if "noqa" not in text and "NOQA" not in text:
        return Directives(lines, False, [])
    src_lines = source_lines(text)
    for line, col, comment in _comments(text):
        fm = _FILE_NOQA.match(comment)
        if fm:
            if src_lines[line - 1][: col - 1].strip() == "":  # on its own line
                if fm.group("codes"):
                    file_codes.extend(t.upper() if code_for(t) is None else code_for(t) for t in _TOKEN.findall(fm.group("codes")))
                else:
                    file_all = True
            continue
        m = _LINE_NOQA.search(comment)
        if not m:
            continue
        codes, end = _codes_after(comment, m.end()) if m.group("colon") else (None, m.end())
        lines[line] = LineNoqa(line, col, comment, m.start(), end, codes)
    return Directives(lines, file_all, file_codes)


def apply(source, findings: list[Finding], enabled: frozenset) -> list[Finding]:
    directives = parse_directives(source.text)
    if directives.file_all:
        return []
    kept: list[Finding] = []
    used: dict[int, set[str]] = {}
    for f in findings:
        if f.code == "EPL000":  # a file that cannot be parsed cannot be suppressed line by line
            kept.append(f)
            continue
        if any(f.code.startswith(p) for p in directives.file_codes):
            continue
        noqa = directives.lines.get(f.line)
        if noqa is not None and (noqa.codes is None or any(c == f.code for _, c in noqa.codes)):
            used.setdefault(f.line, set()).add(f.code)
            continue
        kept.append(f)
    if "EPL900" in enabled:
        kept.extend(_unused(source, directives, used, enabled))
    kept.sort(key=Finding.sort_key)
    return kept


def _unused(source, directives: Directives, used: dict[int, set[str]], enabled: frozenset) -> list[Finding]:
    out = []
    for line, noqa in directives.lines.items():
        if noqa.codes is None:
            continue
        ours = [(tok, c) for tok, c in noqa.codes if c.startswith("EPL") and c in enabled and c != "EPL900"]
        unused = [(tok, c) for tok, c in ours if c not in used.get(line, set())]
        if not unused or any(directives.file_codes and c.startswith(p) for _, c in unused for p in directives.file_codes):
            continue
        remaining = [tok for tok, c in noqa.codes if (tok, c) not in unused]
        directive = noqa.comment[noqa.match_start:noqa.match_end]
        if remaining:
            new_comment = noqa.comment[: noqa.match_start] + "# noqa: " + ", ".join(remaining) + noqa.comment[noqa.match_end:]
            start_col, end_col, content = noqa.column, noqa.column + len(noqa.comment), new_comment
        else:
            rest = (noqa.comment[: noqa.match_start] + noqa.comment[noqa.match_end:]).strip()
            line_text = source_lines(source.text)[line - 1]
            code_end = len(line_text[: noqa.column - 1].rstrip()) + 1
            if rest and rest != "#":
                start_col, end_col, content = noqa.column, noqa.column + len(noqa.comment), rest if rest.startswith("#") else "# " + rest
            else:
                start_col, end_col, content = code_end, noqa.column + len(noqa.comment), ""
        codes_text = ", ".join(c for _, c in unused)
        fix = Fix("safe", (Edit(line, start_col, line, end_col, content),), "remove unused noqa")
        out.append(
            Finding(
                "EPL900", "unused-noqa",
                f"unused `noqa` directive for {codes_text}: no such finding on this line (`{directive.strip()}`)",
                source.path, line, noqa.column, line, noqa.column + len(noqa.comment), fix=fix,
            )
        )
    return out
