"""`--format text` (default): ruff-style findings with the source line and a caret,
coloured on a TTY, followed by a summary; also the `--statistics` table."""
from __future__ import annotations

from collections import Counter

from linter.report.escape import line_start_path, terminal

_RESET, _BOLD, _RED, _CYAN, _BLUE = "\033[0m", "\033[1m", "\033[31m", "\033[36m", "\033[34m"


def location(f) -> str:
    cell = f"[cell {f.cell}]" if f.cell is not None else ""
    return f"{line_start_path(f.path)}{cell}:{f.line}:{f.column}"


def _c(result, code: str, s: str) -> str:
    return f"{code}{s}{_RESET}" if result.color else s


def summary(result) -> list[str]:
    n = len(result.findings)
    out = []
    if result.fixed:
        out.append(f"Fixed {result.fixed} finding{'s' if result.fixed != 1 else ''}.")
    if result.show_fixes and result.fixed_by_path:
        for path, k in sorted(result.fixed_by_path.items()):
            out.append(f"- {path}: {k} fix{'es' if k != 1 else ''} applied")
    if n == 0:
        if result.baseline_note:
            out.append(result.baseline_note)  # not "All checks passed!": the findings are recorded, not gone
        elif not result.fixed:
            out.append("All checks passed!")
        return out
    out.append(f"Found {n} finding{'s' if n != 1 else ''} in {len({f.path for f in result.findings})} file(s).")
    if result.baseline_note:
        out.append(result.baseline_note)
    safe = sum(1 for f in result.findings if f.fix is not None and f.fix.applicability == "safe")
    unsafe = sum(1 for f in result.findings if f.fix is not None and f.fix.applicability == "unsafe")
    if safe or (unsafe and result.unsafe_fixes):
        k = safe + (unsafe if result.unsafe_fixes else 0)
        out.append(f"[*] {k} fixable with `--fix`{' --unsafe-fixes' if result.unsafe_fixes and unsafe else ''}.")
    if unsafe and not result.unsafe_fixes:
        out.append(f"({unsafe} more fixable with `--fix --unsafe-fixes`.)")
    return out


def statistics(result) -> str:
    counts = Counter((f.code, f.name) for f in result.findings)
    fixable = Counter(f.code for f in result.findings if f.fix is not None and f.fix.applicability == "safe")
    rows = [f"{n:>5}\t{code}\t{name}{'  [*]' if fixable[code] else ''}" for (code, name), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    return "".join(r + "\n" for r in rows + summary(result))


def statistics_json(result) -> list[dict]:
    """`--statistics --format json`: one object per rule, like ruff's."""
    counts = Counter((f.code, f.name) for f in result.findings)
    fixable = Counter(f.code for f in result.findings if f.fix is not None and f.fix.applicability == "safe")
    return [
        {"code": code, "name": name, "count": n, "fixable": bool(fixable[code])}
        for (code, name), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def fix_line(result, f) -> str:
    """`--show-fixes`: the finding's fix, indented under it."""
    if f.fix is None:
        return ""
    hidden = f.fix.applicability == "unsafe" and not result.unsafe_fixes
    what = f.fix.description or f"{f.code} fix"
    return f"  = fix ({f.fix.applicability}{', with --unsafe-fixes' if hidden else ''}): {terminal(what)}"


def render(result) -> str:
    if result.statistics:
        return statistics(result)
    out: list[str] = []
    for f in result.findings:
        mark = " [*]" if f.fix is not None and (f.fix.applicability == "safe" or result.unsafe_fixes) else ""
        out.append(f"{_c(result, _BOLD, location(f))}: {_c(result, _RED + _BOLD, f.code)}{mark} {terminal(f.message)}")
        src = result.lines.get(f.path, {}).get(f.cell)
        if src and 1 <= f.line <= len(src):
            text = terminal(src[f.line - 1].rstrip("\r\n").expandtabs(4))
            width = max(1, (f.end_column - f.column) if f.end_line == f.line else len(text) - f.column + 1)
            num = str(f.line)
            out.append(f"{_c(result, _BLUE, ' ' * len(num) + ' |')}")
            out.append(f"{_c(result, _BLUE, num + ' |')} {text}")
            out.append(f"{_c(result, _BLUE, ' ' * len(num) + ' |')} {' ' * (f.column - 1)}{_c(result, _RED, '^' * width)}")
            out.append("")
        if result.show_fixes and f.fix is not None:
            out.append(fix_line(result, f))
        if f.detail:  # a traceback: indented, so no line of it starts with text it quotes
            out.extend("    " + terminal(line) for line in f.detail.rstrip().splitlines())
    out.extend(summary(result))
    return "".join(line + "\n" for line in out)
