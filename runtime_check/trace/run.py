"""Start the traced child, enforce --timeout, and read its facts back (no TensorFlow here).

The child runs in its own session (process group) so that a timeout can stop the script and
anything it started: SIGTERM first (the child turns it into a clean "timeout" end and writes
its last facts), SIGKILL to the group after a grace period. Facts are read from the JSON-lines
file whatever happened; a torn last line (the child killed mid-write) is dropped.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Optional

CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "child.py")
GRACE_SECONDS = 10.0
IMPORT_ALLOWANCE = 300.0


@dataclass
class Run:
    events: list[dict[str, Any]]
    returncode: Optional[int]
    seconds: float
    timed_out: bool = False
    killed: bool = False
    bad_lines: int = 0
    extra: dict = field(default_factory=dict)


def run_script(script: str, args: list[str], max_steps: int, timeout: Optional[float], quiet_stdout: bool,
               env: Optional[dict] = None, python: str = sys.executable) -> Run:
    """Run SCRIPT in a child Python with the hooks installed; never raises for the script's sake."""
    with tempfile.TemporaryDirectory(prefix="epochlint-trace-") as tmp:
        facts = os.path.join(tmp, "facts.jsonl")
        open(facts, "w").close()
        cmd = [python, CHILD, facts, str(max_steps), script, *args]
        stdout = 2 if quiet_stdout else None  # the script's prints must not mix with a JSON/SARIF report
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=stdout, env=env, start_new_session=True)
        timed_out = killed = False
        try:
            timed_out = not _wait(proc, facts, timeout)
            if timed_out:
                _signal_group(proc, signal.SIGTERM)
                try:
                    proc.wait(timeout=GRACE_SECONDS)
                except subprocess.TimeoutExpired:
                    killed = True
                    _signal_group(proc, signal.SIGKILL)
                    proc.wait()
        except KeyboardInterrupt:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()
            raise
        finally:
            _signal_group(proc, signal.SIGKILL, only_others=True)
        seconds = time.perf_counter() - started
        events, bad = read_facts(facts)
    return Run(events, proc.returncode, seconds, timed_out, killed, bad)


def _wait(proc: subprocess.Popen, facts: str, timeout: Optional[float]) -> bool:
    """Wait for the child; True when it ended, False when --timeout expired. The clock starts
    when the script starts (the child's first fact, written once TensorFlow is imported and the
    hooks are in), so importing TensorFlow does not eat the script's time; importing gets
    IMPORT_ALLOWANCE seconds more."""
    if timeout is None:
        proc.wait()
        return True
    begun = time.monotonic()
    script_started: Optional[float] = None
    while True:
        try:
            proc.wait(timeout=0.1)
            return True
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        if script_started is None:
            try:
                if os.path.getsize(facts) > 0:
                    script_started = now
            except OSError:
                pass
        if script_started is not None and now - script_started > timeout:
            return False
        if script_started is None and now - begun > timeout + IMPORT_ALLOWANCE:
            return False


def _signal_group(proc: subprocess.Popen, sig: int, only_others: bool = False) -> None:
    """Signal the child's process group (its own session). With only_others, clean up what the
    script left running after the child itself ended."""
    try:
        if only_others and proc.poll() is None:
            return
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def read_facts(path: str) -> tuple[list[dict[str, Any]], int]:
    events, bad = [], 0
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                line = line.strip()
                if not line:
                    continue
                try:
                    event = json.loads(line)
                except ValueError:
                    bad += 1
                    continue
                if isinstance(event, dict) and "kind" in event:
                    events.append(event)
    except OSError:
        bad += 1
    return events, bad
