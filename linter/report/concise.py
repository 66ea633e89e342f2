"""`--format concise`: one line per finding, `path:line:col: CODE [*] message`."""
from __future__ import annotations

from linter.report.escape import terminal
from linter.report.text import location, summary


def render(result) -> str:
    if result.statistics:
        from linter.report.text import statistics

        return statistics(result)
    lines = []
    for f in result.findings:
        mark = " [*]" if f.fix is not None and (f.fix.applicability == "safe" or result.unsafe_fixes) else ""
        lines.append(f"{location(f)}: {f.code}{mark} {terminal(f.message)}")
        if result.show_fixes and f.fix is not None:
            from linter.report.text import fix_line

            lines.append(fix_line(result, f))
    lines.extend(summary(result))
    return "".join(line + "\n" for line in lines)
