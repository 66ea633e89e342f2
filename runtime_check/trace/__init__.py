"""`epochlint trace`: run the user's own training script, instrumented, and line what happened
up with the static findings for the same files.

  facts.py    JSON-lines fact stream and user-frame mapping (no TensorFlow)
  hooks.py    the instrumentation installed in the child (Keras callback + thin wrappers)
  child.py    the child process: install hooks, run the script with runpy, report how it ended
  run.py      start the child, enforce --timeout, read the facts back
  analyze.py  facts -> per-site observations and runtime findings (every rule in analyze.OBSERVED)
  match.py    static findings (the linter, in-process) vs runtime findings
  report.py   text / JSON / SARIF output
  plot.py     loss curves (--plot)
  cli.py      `epochlint trace` -> main(argv)

Importing this package or cli/run/analyze/match/report imports neither TensorFlow nor numpy.
"""
