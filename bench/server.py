"""`epochlint server` latency and memory, measured over stdio as an editor sees them.

- didChange -> publishDiagnostics: a 100-line and a 2,000-line training script (generated here:
  model builders, `fit` in loops, a custom GradientTape loop; four findings, and a "dense"
  2,000-line variant with four findings in every 35-line block, 228 in all), opened and
  warmed up (a few checks first), then ROUNDS changes of one line each, each waited for. With
  `--debounce-ms 0` this is the check's own latency; the default debounce (100 ms) is added on
  top of it in an editor. The same text parsed by libcst alone, in this process, is the
  reference ("about one parse").
- Resident memory (VmRSS of the server process) after initialize, and after opening 50
  documents (generated scripts of 100 to 2,000 lines) and receiving their diagnostics.

    python bench/server.py [--rounds 20]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.lsp_client import LspClient  # noqa: E402

BLOCK = '''
def build_model_{i}(units):
    model = keras.Sequential([
        keras.layers.Dense(units, activation="relu"),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(1),
    ])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    return model


def train_{i}(x, y, x_val, y_val):
    model = build_model_{i}(32)
    history = model.fit(x, y, epochs=10, batch_size=32, validation_data=(x_val, y_val))
    for fold in range(5):
        model.fit(x, y, epochs=2, nb_epoch=2)
    loss = model.evaluate(x_val, y_val)
    return history, loss


def custom_loop_{i}(dataset, epochs):
    model = build_model_{i}(16)
    optimizer = keras.optimizers.Adam(1e-3)
    loss_fn = keras.losses.MeanSquaredError()
    metric = keras.metrics.Mean()
    for epoch in range(epochs):
        for x, y in dataset:
            with tf.GradientTape() as tape:
                pred = model(x)
                loss = loss_fn(y, pred)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            metric.update_state(loss)
        print(epoch, float(metric.result()))
    return model
'''
HEADER = "import keras\nimport numpy as np\nimport tensorflow as tf\n"


def clean(block: str) -> str:
    """The block without its findings (a script where only some code is wrong)."""
    return (block.replace(", nb_epoch=2", "").replace("pred = model(x)", "pred = model(x, training=True)")
            .replace("    for fold in range(5):\n        model.fit(x, y, epochs=2)\n", "")
            .replace("        print(epoch, float(metric.result()))", "        print(epoch, float(metric.result()))\n        metric.reset_state()"))


def script(lines: int, dense: bool = False) -> str:
    """`lines` lines of training code: whole blocks, then module-level settings to fill up.
    The first block has four findings; with `dense`, every block has them."""
    out, count, i = [HEADER], HEADER.count("\n"), 0
    while True:
        block = BLOCK.format(i=i) if dense or i == 0 else clean(BLOCK.format(i=i))
        if count + block.count("\n") > lines:
            break
        out.append(block)
        count += block.count("\n")
        i += 1
    out.extend(f"SETTING_{k} = {k}\n" for k in range(lines - count))
    return "".join(out)


MODELS = "import keras\n\n\ndef build_model():\n    return keras.Sequential([keras.layers.Dense(8), keras.layers.Dropout(0.5), keras.layers.Dense(1)])\n"


def project_index() -> bool:
    from linter.server.project import available

    return available()


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cpu_ms(pid: int) -> float:
    """CPU time of every thread of process `pid` so far (ns precision, from schedstat)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as fh:
                total += int(fh.read().split()[0])
        except OSError:
            pass
    return total / 1e6


def parse_ms(text: str, rounds: int) -> float:
    import gc

    import libcst as cst

    times = []
    for _ in range(rounds):
        t = time.process_time()
        cst.parse_module(text)
        times.append(time.process_time() - t)
        gc.collect()
    return statistics.median(times) * 1000


def latency(client: LspClient, uri: str, text: str, rounds: int) -> tuple[list[float], list[float]]:
    """(wall ms, server CPU ms) from each didChange to its publishDiagnostics."""
    client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}})
    client.diagnostics(uri, 0)
    lines = text.count("\n")
    times, cpu = [], []
    for v in range(2, rounds + 5):
        line = (v * 7) % lines
        # a real edit every time: a comment line inserted
        change = {"range": {"start": {"line": line, "character": 0}, "end": {"line": line, "character": 0}}, "text": f"# {v}\n"}
        mark = client.mark()
        c = cpu_ms(client.proc.pid)
        t = time.perf_counter()
        client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": v}, "contentChanges": [change]})
        client.wait_for("textDocument/publishDiagnostics", lambda p: p["uri"] == uri and p.get("version") == v, after=mark)
        if v >= 5:  # the first changes warm up
            times.append((time.perf_counter() - t) * 1000)
            cpu.append(cpu_ms(client.proc.pid) - c)
    return times, cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    import tempfile

    work = Path(tempfile.mkdtemp(prefix="epochlint-server-bench-"))
    rows = []
    for debounce in (0, 100):
        client = LspClient(args=["--debounce-ms", str(debounce)], cwd=str(work))
        client.initialize(work)
        cases = [(100, False), (2000, False), (2000, True)]
        if project_index():
            cases.append((2000, "project"))
        for n, dense in cases:
            if dense and debounce:
                continue
            text = script(n, dense is True)
            if dense == "project":  # the script imports its builder from the project's models.py
                (work / "models.py").write_text(MODELS)
                text = text.replace("import numpy as np\n", "from models import build_model\n", 1)
            times, cpu = latency(client, (work / f"train_{n}_{debounce}_{dense}.py").as_uri(), text, args.rounds)
            rows.append((n, dense, debounce, statistics.median(times), max(times), statistics.median(cpu), parse_ms(text, 5) if debounce == 0 else None))
        client.close()

    client = LspClient(args=["--debounce-ms", "0"], cwd=str(work))
    client.initialize(work)
    time.sleep(0.5)
    idle = rss_mib(client.proc.pid)
    total_lines = 0
    for k in range(50):
        n = 100 + (k * 1900) // 49
        total_lines += n
        uri = (work / f"doc{k}.py").as_uri()
        mark = client.mark()
        client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": script(n)}})
        client.diagnostics(uri, mark)
    loaded = rss_mib(client.proc.pid)
    client.close()

    print("| script | findings | debounce | didChange -> publishDiagnostics: median ms (wall) | max ms | server CPU ms per change (median) | libcst parse alone, CPU ms | server CPU / parse |")
    print("|---|---|---|---|---|---|---|---|")
    parses = {(n, dense): parse for n, dense, _, _, _, _, parse in rows if parse is not None}
    for n, dense, debounce, med, worst, cpu, parse in rows:
        shown = "" if parse is None else f"{parse:.0f}"
        findings = {True: "228 (4 per 35-line block)", "project": "4, importing models.py (project index, warm)"}.get(dense, "4")
        print(f"| {n} lines | {findings} | {debounce} ms | {med:.0f} | {worst:.0f} | {cpu:.0f} | {shown} | {cpu / parses[(n, dense)]:.2f} |")
    print()
    print(f"Resident memory (VmRSS): {idle:.0f} MiB after initialize; {loaded:.0f} MiB after opening 50 documents "
          f"({total_lines} lines, 100 to 2,000 each) and receiving their diagnostics.")
    print(f"({os.cpu_count()} CPUs; load average before: {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
