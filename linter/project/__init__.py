"""Project-wide analysis: which project modules a file imports, and what they define.

A file is still checked on its own (file -> parse -> rules -> findings), but the names it
imports from other modules of the same project are no longer blind spots: each such module has
a small JSON *summary* (its functions returning Keras models, model classes, module-level
models, dataset builders and values, metric factories, classes and objects, re-exports;
`summary.py`), computed once per module content and cached, and the file's
`SemanticModel` reads the facts of the modules it imports through a `ProjectView` (`view.py`).

- `imports.py`  a cheap scan of a text's import statements (no parse: it runs on a warm cache)
- `index.py`    the project root, module names, import resolution (as Python would, with the
                script's folder first on sys.path), the import graph in dependency order, and
                `ProjectIndex` (the API the language server reuses: `for_path`, `summary_of`,
                `invalidate`)
- `stat_cache.py` what each file's bytes told the index (digest, imports, keras mention), kept
                between runs by stat signature in one file per cache: a warm run reads no
                unchanged file
- `resolutions.py` each module's import resolution, kept in the same file while no folder it
                looked at has changed: a warm run resolves nothing
- `summary.py`  a module's summary, from its SemanticModel (the check's own, or a walk of its
                own for a module that is imported but not checked)
- `view.py`     `ProjectView`: what one checked file sees of the project (picklable: sent to
                the worker that checks it), and the digest its cached result depends on
"""
