"""Analyses shared by several rules (data flow to `tape.gradient`, loss shapes, model contents).

Each module answers questions in a rule's `finish()` from what the semantic model and the rule
collected during the single walk; none of them walks the whole module again unless a rule
has a candidate that needs it.
"""
