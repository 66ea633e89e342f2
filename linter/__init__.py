"""epochlint's static half: a libcst-based checker for Keras/TensorFlow training misconceptions.

The path is a straight line: discovery -> source -> engine (parse, one walk, rules) ->
suppression -> findings -> report. Nothing here imports TensorFlow.
"""

__version__ = "0.1.0"
