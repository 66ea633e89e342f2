"""runtime_check: proves each linter rule's claim by running a small witness experiment.

Layout (importing this package, `cli`, `evidence` or `report` never imports TensorFlow):
  data.py        synthetic, seeded, float32 data with a learnable target (numpy only)
  env.py         lazy TensorFlow/Keras loading, version info, seeding, output capture
  models.py      tiny model builders (functional, Sequential, subclassed; the seed's net)
  patterns.py    training patterns (fit x3, the seed's custom loops, its misconception)
                 and the seed audit
  witnesses/     one witness per rule code, registry `WITNESSES` keyed by code
  runner.py      runs patterns/witnesses, times them, yields results as they finish
  report.py      text table rows and the JSON document (no TensorFlow)
  evidence.py    the last evidence summary per code in the user cache dir (no TensorFlow)
  plot.py        PNG loss curves of the patterns (matplotlib Agg)
  cli.py         `epochlint verify` -> main(argv)
  trace/         `epochlint trace`: run the user's script instrumented (docs/TRACE.md)
"""
