"""Code actions: a finding's fix, "fix all safe", and "suppress with `# noqa: CODE`".

- The rule's fix comes from the diagnostic's `data` (its edits were placed when the diagnostic
  was made, `linter.server.diagnostics`): a `quickfix`, preferred when safe; an unsafe fix says
  "(unsafe)" in its title and is never preferred, so no "fix on save" applies it.
- "Fix all safe epochlint findings" (`source.fixAll.epochlint`) runs the CLI's fix rounds
  (`linter.fixes.fix_source`: every safe fix, re-checked, kept only while the code still parses;
  a notebook's fixed text goes back into its cells through `linter.notebook.cell_texts`) and
  returns one minimal edit per changed document.
- "Suppress with `# noqa: CODE`" adds the code to the line's `# noqa:` list, or appends a
  comment; not offered for EPL000 (it cannot be suppressed) nor where a comment would change
  the code (the line ends inside a string or with a backslash continuation).
"""
from __future__ import annotations

import dataclasses
import io
import tokenize
from typing import Callable, Iterable, Optional

from lsprotocol import types

from linter import fixes, notebook, runner, suppression
from linter.server.checking import Checked
from linter.server.diagnostics import SOURCE
from linter.server.layout import UTF16, units
from linter.suppression import source_lines

FIX_ALL_KIND = "source.fixAll.epochlint"
FIX_ALL_TITLE = "Fix all safe epochlint findings"


def _edit(uri: str, rng: dict, new_text: str) -> tuple[str, types.TextEdit]:
    r = types.Range(types.Position(rng["start"]["line"], rng["start"]["character"]), types.Position(rng["end"]["line"], rng["end"]["character"]))
    return uri, types.TextEdit(range=r, new_text=new_text)


def workspace_edit(edits: Iterable[tuple[str, types.TextEdit]]) -> types.WorkspaceEdit:
    changes: dict[str, list[types.TextEdit]] = {}
    for uri, edit in edits:
        changes.setdefault(uri, []).append(edit)
    return types.WorkspaceEdit(changes=changes)


def fix_action(d: types.Diagnostic) -> Optional[types.CodeAction]:
    data = d.data if isinstance(d.data, dict) else {}
    fix = data.get("fix")
    if not fix or not fix.get("edits"):
        return None
    safe = fix.get("applicability") == "safe"
    what = fix.get("description") or data.get("name") or "apply the fix"
    title = f"{d.code}: {what}" + ("" if safe else " (unsafe fix: may change behaviour)")
    return types.CodeAction(
        title=title,
        kind=types.CodeActionKind.QuickFix,
        diagnostics=[d],
        is_preferred=safe,
        edit=workspace_edit(_edit(e["uri"], e["range"], e["newText"]) for e in fix["edits"]),
    )


# --------------------------------------------------------------------------- noqa
def _comment_would_change_code(text: str, line: int) -> bool:
    """Does line `line` (1-based) end inside a string, or continue with a backslash?"""
    lines = source_lines(text)
    if line > len(lines) or lines[line - 1].rstrip().endswith("\\"):
        return True
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text, newline=None).readline):
            if tok.start[0] > line:
                break
            if tok.type == tokenize.STRING and tok.start[0] <= line < tok.end[0]:
                return True
            if tok.type == getattr(tokenize, "FSTRING_MIDDLE", -1) and tok.start[0] <= line < tok.end[0]:
                return True
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return False  # an unclosed bracket further down: a comment at this line's end is still a comment
    return False


def noqa_edit(text: str, line0: int, code: str, encoding: str = UTF16) -> Optional[tuple[types.Range, str]]:
    """(range, new text) adding `code` to line `line0`'s noqa comment, or None."""
    line = line0 + 1
    lines = source_lines(text)
    if line > len(lines) or _comment_would_change_code(text, line):
        return None
    body = lines[line - 1]
    noqa = suppression.parse_directives(text).lines.get(line)
    if noqa is not None:
        if noqa.codes is None or any(c == code for _, c in noqa.codes):
            return None  # suppressed already (a bare directive, or this code listed)
        at = noqa.column - 1 + noqa.match_end
        insert = (", " if noqa.codes else " ") + code
    else:
        at = len(body)
        insert = ("  " if body.strip() else "") + f"# noqa: {code}"
    pos = types.Position(line0, units(body[:at], encoding))
    return types.Range(pos, pos), insert


def noqa_action(d: types.Diagnostic, uri: str, text: str, encoding: str = UTF16) -> Optional[types.CodeAction]:
    code = str(d.code)
    if code == "EPL000":
        return None
    found = noqa_edit(text, d.range.start.line, code, encoding)
    if found is None:
        return None
    rng, insert = found
    return types.CodeAction(
        title=f"{code}: suppress with `# noqa: {code}`",
        kind=types.CodeActionKind.QuickFix,
        diagnostics=[d],
        edit=workspace_edit([(uri, types.TextEdit(range=rng, new_text=insert))]),
    )


# --------------------------------------------------------------------------- fix all
def _offset_position(text: str, offset: int, encoding: str) -> types.Position:
    before = text[:offset]
    lines = source_lines(before)
    return types.Position(len(lines) - 1, units(lines[-1], encoding))


def minimal_edit(old: str, new: str, encoding: str = UTF16) -> Optional[types.TextEdit]:
    """One edit turning `old` into `new`: the differing middle (the cursor elsewhere stays)."""
    if old == new:
        return None
    p = 0
    limit = min(len(old), len(new))
    while p < limit and old[p] == new[p]:
        p += 1
    s = 0
    while s < limit - p and old[len(old) - 1 - s] == new[len(new) - 1 - s]:
        s += 1
    # never split a \r\n pair (a position between them is not a position in the editor)
    while p > 0 and old[p - 1] == "\r" and p < len(old) and old[p] == "\n":
        p -= 1
    while s > 0 and old[len(old) - s] == "\n" and len(old) - s > 0 and old[len(old) - s - 1] == "\r":
        s -= 1
    start, end = _offset_position(old, p, encoding), _offset_position(old, len(old) - s, encoding)
    return types.TextEdit(range=types.Range(start, end), new_text=new[p:len(new) - s])


def fix_all_edits(checked: Checked, encoding: str = UTF16) -> list[tuple[str, types.TextEdit]]:
    """The edits of every safe fix of a checked snapshot (the CLI's `--fix` rounds)."""
    source, settings = checked.source, checked.settings
    if not any(f.fix is not None and f.fix.applicability == "safe" for f in checked.findings):
        return []
    first = [True]

    def check(current) -> list:
        if first[0] and current.text == source.text:  # round one: the findings already published
            first[0] = False
            return checked.findings
        plain = dataclasses.replace(current, cells=None) if current.cells else current
        return runner.check_source(plain, settings).result.findings

    outcome = fixes.fix_source(source, check, unsafe=False)
    if not outcome.applied or outcome.new_text == source.text:
        return []
    snap = checked.snapshot
    if snap.cells is None:
        edit = minimal_edit(snap.text, outcome.new_text, encoding)
        return [(snap.uri, edit)] if edit else []
    out = []
    for cell, text in notebook.cell_texts(source, outcome.new_text):
        doc = snap.cells[cell.index]
        edit = minimal_edit(doc.text, text, encoding)
        if edit is not None:
            out.append((doc.uri, edit))
    return out


def fix_all_action(edits: Optional[list], data: Optional[dict] = None) -> types.CodeAction:
    """The source action; `edits` None leaves the edit to `codeAction/resolve` (with `data`)."""
    return types.CodeAction(
        title=FIX_ALL_TITLE,
        kind=FIX_ALL_KIND,
        edit=workspace_edit(edits) if edits is not None else None,
        data=data,
    )


def wants(only: Optional[list], kind: str) -> bool:
    """Does the request's `only` filter admit an action of `kind`? (LSP: prefix match by dots)"""
    if not only:
        return True
    kind = str(getattr(kind, "value", kind))
    wanted = [str(getattr(k, "value", k)) for k in only]  # plain strings or lsprotocol enum members
    return any(kind == k or kind.startswith(k + ".") for k in wanted)


def our_diagnostics(diagnostics: Iterable[types.Diagnostic]) -> list[types.Diagnostic]:
    return [d for d in diagnostics if d.source == SOURCE and d.code]


def quick_actions(diagnostics: Iterable[types.Diagnostic], uri: str, text: Callable[[], Optional[str]], encoding: str) -> list[types.CodeAction]:
    """Fix and noqa actions for the request's diagnostics (`text()`: the document's current text)."""
    out: list[types.CodeAction] = []
    current = None
    for d in our_diagnostics(diagnostics):
        action = fix_action(d)
        if action is not None:
            out.append(action)
        if current is None:
            current = text() or ""
        action = noqa_action(d, uri, current, encoding)
        if action is not None:
            out.append(action)
    return out
