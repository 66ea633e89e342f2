"""What a value fed to `fit` is: a tf.data chain (finite, repeated, infinite), a generator, an
ImageDataGenerator iterator, a PyDataset/Sequence, or an in-memory array.

Rules collect `fit`/`evaluate`/`predict` calls during the walk (`TrainingCall`) and ask
`self.analysis(DataFlow)` in `finish()`. The answers come from the module's own imports and bindings
(`SemanticModel`), never from source text, and are flow-sensitive inside one scope: the bindings
that reach a use are the last one that dominates it plus the conditional ones after it, so
`ds = ds.repeat()` in one branch and a finite `ds` on the other path is not "known infinite".
Unknown values give `None`; rules treat `None` as "no finding".

Names imported from another module of the project get the same answers through that module's
summary (linter.project.summary): `returned_fact` / `value_fact` turn what this analysis knows
of a function's result or a module-level value into a small JSON fact there, and `fact_data`
turns it back into a `Data` in the importer (a function whose result depends on what its
callers pass gets no fact: unknown).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

import libcst as cst

from linter import names as N
from linter.analysis import generators
from linter.analysis.calls import find_argument
from linter.semantic import AFTER_ALL, Binding, Scope, SemanticModel
from linter.walker import iter_nodes

# --------------------------------------------------------------------------- kinds
DATASET = "dataset"  # tf.data.Dataset
GENERATOR = "generator"  # a Python generator (a function containing `yield`, a generator expression)
ITERATOR = "iterator"  # ImageDataGenerator().flow*(...), DirectoryIterator & co.
PYDATASET = "pydataset"  # an instance of a keras.utils.PyDataset / Sequence subclass
ARRAY = "array"  # numpy arrays, tensors, pandas frames: in-memory samples
LIST = "list"  # a Python list/tuple literal or comprehension
IMAGE_DATA_GENERATOR = "image-data-generator"  # the ImageDataGenerator object itself (not data)

STREAMED = frozenset({DATASET, GENERATOR, ITERATOR, PYDATASET})  # batching is the input's own
IN_MEMORY = frozenset({ARRAY, LIST})

KIND_TEXT = {
    DATASET: "a tf.data.Dataset",
    GENERATOR: "a Python generator",
    ITERATOR: "an ImageDataGenerator iterator",
    PYDATASET: "a PyDataset/Sequence",
    ARRAY: "an array",
    LIST: "a list",
}


@dataclass(frozen=True, eq=False, repr=False)
class Where:
    """The place an expression is evaluated: its scope, its ancestors (outermost first, for
    "which bindings reach it") and, inside a same-module function called with arguments, what
    its parameters were bound to."""

    scope: Scope
    ancestors: tuple
    env: Optional["ParamEnv"] = None
    seq: int = 0  # the semantic binding counter there (`SemanticModel.reaching`)


@dataclass(frozen=True, eq=False, repr=False)
class ParamEnv:
    """Arguments of one call to a same-module function: parameter name -> (expression, Where)."""

    scope: Scope  # the function's scope
    args: dict
    complete: bool = True  # False after `*args`/`**kwargs`: an absent parameter may still be passed


Ref = tuple  # (expression node, Where)


@dataclass(frozen=True)
class Data:
    """What is known about a value. `infinite` is "known to never end" (never a guess)."""

    kind: str
    infinite: bool = False
    why: str = ""  # what makes it infinite, for messages ("`.repeat()` without a count")
    repeat: Optional[Ref] = None  # datasets: the count of a `.repeat(n)` that decides one pass
    batch_size: Optional[Ref] = None  # iterators: the `batch_size=` argument (None: the default, 32)
    finite: bool = False  # generators: known to end (no endless loop; every loop over finite data)
    reshuffles: str = ""  # known to yield another order on every pass: what shuffles it (for messages)

    @property
    def streamed(self) -> bool:
        return self.kind in STREAMED

    @property
    def text(self) -> str:
        return KIND_TEXT.get(self.kind, self.kind)


@dataclass(frozen=True, eq=False)
class Step:
    """One dataset method call of a pipeline (`DataFlow.steps`): `.batch(32)`, `.shuffle(n)`."""

    method: str
    call: cst.Call
    where: Where


@dataclass(frozen=True)
class SampleCount:
    """An expression that counts samples (not batches)."""

    text: str  # e.g. "`train_gen.samples` (the number of samples)"
    kind: str  # ITERATOR | ARRAY
    batch_size: Optional[Ref] = None  # iterators: their batch_size argument, if known
    known: bool = True  # False: `.shape[0]` of a value not known to be an array (--strict only)


# --------------------------------------------------------------------------- API tables
_DATASET_CLASSES = frozenset(
    {
        "tensorflow.data.Dataset",
        "tensorflow.python.data.ops.dataset_ops.Dataset",
        "tensorflow.python.data.ops.dataset_ops.DatasetV2",
    }
)
# reader classes: calling one builds a (finite) dataset
_DATASET_READERS = frozenset(
    {
        "tensorflow.data.TFRecordDataset",
        "tensorflow.data.TextLineDataset",
        "tensorflow.data.FixedLengthRecordDataset",
        "tensorflow.data.experimental.CsvDataset",
        "tensorflow.data.experimental.SqlDataset",
    }
)
_DATASET_CONSTRUCTORS = frozenset(
    {
        "from_tensor_slices", "from_tensors", "from_generator", "range", "zip", "list_files",
        "load", "sample_from_datasets", "choose_from_datasets", "counter", "random",
        "concatenate",
    }
)
_INFINITE_CONSTRUCTORS = {"counter": "`tf.data.Dataset.counter()`", "random": "`tf.data.Dataset.random()`"}
# tf.data.experimental readers that repeat forever unless `num_epochs` is given
_NUM_EPOCHS_READERS = frozenset(
    {
        "tensorflow.data.experimental.make_csv_dataset",
        "tensorflow.data.experimental.make_batched_features_dataset",
    }
)
# Keras helpers returning a batched tf.data.Dataset (a tuple with `subset="both"`)
_KERAS_DATASET_HELPERS = frozenset(
    {
        "image_dataset_from_directory",
        "text_dataset_from_directory",
        "audio_dataset_from_directory",
        "timeseries_dataset_from_array",
    }
)
_KERAS_ITERATOR_CLASSES = frozenset({"DirectoryIterator", "NumpyArrayIterator", "DataFrameIterator"})
_FLOW_METHODS = {"flow": 2, "flow_from_directory": 5, "flow_from_dataframe": 9}  # -> index of batch_size
_FLOW_SHUFFLE = {"flow": 3, "flow_from_directory": 6, "flow_from_dataframe": 10}  # -> index of shuffle
# Keras helpers that shuffle (every pass anew) unless `shuffle=False`, as measured by the EPL308
# and EPL310 witnesses (the others are not known: no finding)
_HELPERS_SHUFFLE = {"image_dataset_from_directory": True, "text_dataset_from_directory": True}
_FLOW_RESHUFFLES = frozenset({"flow_from_directory"})  # measured (flow_from_dataframe needs pandas)
_PYDATASET_BASES = frozenset(
    {
        "keras.utils.PyDataset",
        "keras.utils.Sequence",
        "keras.utils.data_utils.Sequence",
        "keras.src.utils.data_utils.Sequence",
        "keras.src.trainers.data_adapters.py_dataset_adapter.PyDataset",
        "keras.src.utils.PyDataset",
        "keras.utils.all_utils.Sequence",
        "keras.src.utils.all_utils.Sequence",
    }
)
# Dataset methods returning a dataset; how each one changes the number of elements
_KEEPS_LENGTH = frozenset(
    {
        "map", "batch", "padded_batch", "ragged_batch", "sparse_batch", "shuffle", "prefetch",
        "cache", "unbatch", "rebatch", "filter", "with_options", "enumerate", "shard",
        "ignore_errors", "map_with_legacy_function", "flat_map", "interleave", "parallel_interleave",
        "window", "group_by_window", "bucket_by_sequence_length", "rejection_resample",
        "snapshot", "prefetch_to_device", "unique", "scan", "options", "distribute",
    }
)
_CUTS = frozenset({"take", "skip", "take_while", "apply", "concatenate"})
_ARRAY_METHODS = frozenset(
    {"astype", "reshape", "copy", "squeeze", "flatten", "ravel", "transpose", "to_numpy", "drop", "dropna", "sample", "pop", "expand_dims"}
)
_ARRAY_ATTRS = frozenset({"values", "T"})
_NOT_ARRAYS = frozenset(
    {
        "numpy.random.default_rng", "numpy.random.RandomState", "numpy.random.Generator",
        "numpy.random.seed", "numpy.split", "numpy.array_split", "numpy.hsplit", "numpy.vsplit",
        "numpy.dsplit", "numpy.nonzero", "numpy.where", "numpy.unique", "numpy.histogram", "numpy.meshgrid",
        "numpy.savez", "numpy.save", "numpy.printoptions",
        "numpy.set_printoptions", "numpy.errstate", "numpy.dtype", "numpy.finfo", "numpy.iinfo",
        "numpy.vectorize", "numpy.testing", "numpy.random.get_state", "numpy.random.set_state",
        "numpy.shape", "numpy.ndim", "numpy.size", "numpy.sum", "numpy.mean", "numpy.prod",
        "numpy.max", "numpy.min", "numpy.argmax", "numpy.argmin", "numpy.median", "numpy.std",
        "numpy.var", "numpy.ceil", "numpy.floor", "numpy.round", "numpy.allclose", "numpy.isclose",
        "numpy.array_equal", "numpy.any", "numpy.all", "numpy.int32", "numpy.int64", "numpy.float32",
        "numpy.float64", "numpy.count_nonzero", "numpy.trace", "numpy.linalg.norm",
    }
)
_TENSOR_FACTORIES = frozenset(
    {
        "tensorflow.constant", "tensorflow.convert_to_tensor", "tensorflow.zeros", "tensorflow.ones",
        "tensorflow.random.normal", "tensorflow.random.uniform", "tensorflow.stack", "tensorflow.concat",
        "tensorflow.one_hot", "tensorflow.cast", "tensorflow.reshape",
        "keras.utils.to_categorical", "keras.utils.pad_sequences", "keras.preprocessing.sequence.pad_sequences",
        "keras.utils.normalize",
    }
)
_PANDAS_FACTORIES = frozenset(
    {"pandas.read_csv", "pandas.read_parquet", "pandas.read_excel", "pandas.read_json", "pandas.read_table",
     "pandas.read_feather", "pandas.DataFrame", "pandas.Series", "pandas.concat", "pandas.get_dummies"}
)
# calls whose result a `for` loop walks to its end
_FINITE_ITERABLE_CALLS = frozenset(
    {
        "builtins.range", "builtins.sorted", "builtins.list", "builtins.tuple", "builtins.set", "builtins.dict",
        "os.listdir", "os.scandir", "glob.glob", "numpy.array_split", "numpy.split", "numpy.arange",
        "numpy.random.permutation",
    }
)
_FINITE_ITERABLE_METHODS = frozenset({"items", "keys", "values", "iterrows", "itertuples", "readlines", "split"})
# decorators that keep what a function returns
_TRANSPARENT_DECORATORS = frozenset(
    {"functools.lru_cache", "functools.cache", "builtins.staticmethod", "typing.overload"}
)
# functions returning a tuple of arrays: (depth of the leaves, kind)
_ARRAY_TUPLE_FUNCTIONS = {"sklearn.model_selection.train_test_split": 1}


def _normalise(q: Optional[str]) -> Optional[str]:
    if q is not None and q.startswith("tensorflow.compat.v1."):
        return "tensorflow." + q[len("tensorflow.compat.v1."):]
    return q


def _dataset_constructor(q: str) -> Optional[str]:
    """`tensorflow.data.Dataset.range` -> "range" (also the reader classes themselves)."""
    if q in _DATASET_READERS:
        return "reader"
    cls, _, method = q.rpartition(".")
    if cls in _DATASET_CLASSES and method in _DATASET_CONSTRUCTORS:
        return method
    return None


def _keras_last(q: Optional[str]) -> Optional[str]:
    if q is None or not N.is_keras_name(q):
        return None
    return q.rsplit(".", 1)[-1]


def is_none(node: Optional[cst.BaseExpression]) -> bool:
    return isinstance(node, cst.Name) and node.value == "None"


# --------------------------------------------------------------------------- the analysis
_UNSET = object()
_MAX_DEPTH = 40


class DataFlow:
    """Per-file answers about data values (a rule declares it in `ANALYSES`; built once per file)."""

    def __init__(self, ctx) -> None:
        self.sem: SemanticModel = getattr(ctx, "semantic", ctx)  # a file's context (or its SemanticModel)
        self._memo: dict = {}
        self._depth = 0
        self._param_reads: Optional[list] = None  # summaries: parameters whose value was needed
        self._random_memo: dict = {}  # summaries: what makes a body random, its calls, its steering flags

    def _param_read(self, b: Binding) -> None:
        """A parameter's value was needed and no call supplies it (summaries: the result
        depends on what the callers pass)."""
        if self._param_reads is not None:
            self._param_reads.append(b.name)

    # ------------------------------------------------------------------ reach
    def reaching(self, name: str, where: Where) -> list[Binding]:
        """The bindings of `name` that can reach `where` (`SemanticModel.reaching`)."""
        return self.sem.reaching(name, where.scope, where.seq, where.ancestors)

    def _binding_where(self, b: Binding, where: Where) -> Where:
        env = where.env if where.env is not None and where.env.scope is b.scope else None
        return Where(b.scope, b.ancestors + (b.stmt,), env, b.seq)

    # ------------------------------------------------------------------ data of an expression
    def data(self, node: cst.BaseExpression, where: Where) -> Optional[Data]:
        """What `node` evaluates to, or None when not known."""
        return self.data_at(node, where, ())

    def data_at(self, node: cst.CSTNode, where: Where, path: tuple) -> Optional[Data]:
        """What the element at `path` (tuple indices) of `node`'s value is."""
        key = (id(node), where.env, path, where.scope)  # objects, not ids: an env must stay alive while keyed
        hit = self._memo.get(key, _UNSET)
        if hit is not _UNSET:
            return hit  # type: ignore[return-value]
        if self._depth > _MAX_DEPTH:
            return None
        self._memo[key] = None  # recursion guard
        self._depth += 1
        try:
            result = self._data_at(node, where, path)
        finally:
            self._depth -= 1
        self._memo[key] = result
        return result

    def _data_at(self, node: cst.CSTNode, where: Where, path: tuple) -> Optional[Data]:
        if isinstance(node, cst.Name):
            return self._name_data(node, where, path)
        if isinstance(node, (cst.Tuple, cst.List)):
            return self._sequence_data(node, where, path)
        if isinstance(node, cst.Call):
            return self._call_data(node, where, path)
        if isinstance(node, cst.Attribute) and self.sem.project is not None:  # `data.train_ds`
            fact = self.sem.project_fact(node, where.scope)
            if fact is not None:
                return fact_data(fact.get("data"), path, where) if fact.get("kind") == "value" else None
        if path:
            return None
        if isinstance(node, (cst.ListComp,)):
            return Data(LIST)
        if isinstance(node, cst.GeneratorExp):
            return self._generator(generators.expression_ends(
                node, lambda e: self._iterable_ends(e, where), lambda e: self._iterable_endless(e, where)))
        if isinstance(node, cst.Subscript):
            base = self.data(node.value, where)
            return Data(ARRAY) if base is not None and base.kind == ARRAY else None
        if isinstance(node, cst.BinaryOperation):
            for side in (node.left, node.right):
                d = self.data(side, where)
                if d is not None and d.kind == ARRAY:
                    return Data(ARRAY)
            return None
        if isinstance(node, cst.Attribute):
            return self._attribute_data(node, where)
        return None

    def _sequence_data(self, node, where: Where, path: tuple) -> Optional[Data]:
        elements = node.elements
        if path:
            i = path[0]
            if any(isinstance(e, cst.StarredElement) for e in elements[: i + 1]) or i >= len(elements):
                return None
            return self.data_at(elements[i].value, where, path[1:])
        if isinstance(node, cst.List):
            return Data(LIST)
        # a tuple of arrays (multi-input models) is in-memory data
        kinds = [self.data(e.value, where) for e in elements]
        if kinds and all(k is not None and k.kind in IN_MEMORY for k in kinds):
            return Data(ARRAY)
        return None

    def _name_data(self, node: cst.Name, where: Where, path: tuple) -> Optional[Data]:
        results = []
        bindings = self.reaching(node.value, where)
        if not bindings:
            if self.sem.star_imports:  # `from data import *`
                return self._project_data(self.sem.qualified_name(node, where.scope), path, where)
            return None
        for b in bindings:
            results.append(self._binding_data(b, node.value, where, path))
        return merge(results)

    def _binding_data(self, b: Binding, name: str, where: Where, path: tuple) -> Optional[Data]:
        if b.kind == "param":
            env = where.env
            if env is not None and env.scope is b.scope and name in env.args:
                value, at = env.args[name]
                return self.data_at(value, at, path)
            if env is None or env.scope is not b.scope:
                self._param_read(b)
            if b.annotation is not None and not path:
                q = self.sem.qualified_name(b.annotation, b.scope.parent or self.sem.module_scope)
                return _annotation_data(q)
            param = b.value
            if env is not None and env.scope is b.scope and env.complete and isinstance(param, cst.Param) and param.default is not None:
                outer = b.scope.parent or self.sem.module_scope
                return self.data_at(param.default, Where(outer, b.ancestors, None, b.seq), path)
            return None
        if b.kind == "import":
            return self._project_data(b.qname, path, where)
        bw = self._binding_where(b, where)
        if b.kind in ("assign", "annassign"):
            if b.value is None:
                if b.annotation is not None and not path:
                    return _annotation_data(self.sem.qualified_name(b.annotation, b.scope))
                return None
            return self.data_at(b.value, bw, path)
        if b.kind == "other" and isinstance(b.stmt, cst.Assign):
            for t in b.stmt.targets:
                sub = _target_path(t.target, name)
                if sub is not None:
                    return self.data_at(b.stmt.value, bw, sub + path)
        return None

    def _attribute_data(self, node: cst.Attribute, where: Where) -> Optional[Data]:
        if node.attr.value in _ARRAY_ATTRS:
            base = self.data(node.value, where)
            if base is not None and base.kind == ARRAY:
                return Data(ARRAY)
            return None
        # `self.train_ds` inside a class: every assignment of that attribute in the class
        if isinstance(node.value, cst.Name) and self.sem.is_self_param(node.value.value, where.scope):
            cls = where.scope.class_scope()
            bindings = self.sem.class_attrs.get(id(cls.node), {}).get(node.attr.value) if cls else None
            if bindings:
                return merge([
                    self.data(b.value, Where(b.scope, b.ancestors + (b.stmt,), None, b.seq)) if b.value is not None else None
                    for b in bindings
                ])
        return None

    # ------------------------------------------------------------------ calls
    def _call_data(self, node: cst.Call, where: Where, path: tuple) -> Optional[Data]:
        sem = self.sem
        q = _normalise(sem.qualified_name(node.func, where.scope))
        if q is not None:
            known = self._library_call(node, q, where, path)
            if known is not _UNSET:
                return known  # type: ignore[return-value]
        local = sem.local_def(node.func, where.scope)
        if isinstance(local, cst.ClassDef):
            if path:
                return None
            return Data(PYDATASET) if sem.class_derives_from(local, _PYDATASET_BASES) is True else None
        if isinstance(local, cst.FunctionDef):
            return self._local_call(node, local, where, path)
        if sem.project is not None and local is None:  # a builder imported from a project module
            fact = sem.project_fact(node.func, where.scope)
            if fact is not None:
                return fact_data(fact.get("data"), path, where) if fact.get("kind") in ("function", "class") else None
        if isinstance(node.func, cst.Attribute) and not path:
            return self._method_data(node, node.func, where)
        return None

    def _library_call(self, node: cst.Call, q: str, where: Where, path: tuple):
        """Calls resolved to a library name; `_UNSET` when the name is not one of ours."""
        constructor = _dataset_constructor(q)
        if constructor is not None:
            if path:
                return None
            if constructor in _INFINITE_CONSTRUCTORS:
                return Data(DATASET, infinite=True, why=_INFINITE_CONSTRUCTORS[constructor])
            if constructor == "zip":
                parts = self._zip_parts(node, where)
                if parts and all(p is not None and p.kind == DATASET and p.infinite for p in parts):
                    return Data(DATASET, infinite=True, why=parts[0].why)
            return Data(DATASET)
        if q in _NUM_EPOCHS_READERS:
            if path:
                return None
            num_epochs = _keyword(node, "num_epochs")
            if any(a.star for a in node.args):
                return Data(DATASET)  # num_epochs may be in **kwargs
            if num_epochs is None or self.none_value(num_epochs.value, where):
                short = q.rsplit(".", 1)[-1]
                return Data(DATASET, infinite=True, why=f"`{short}` without `num_epochs` (it repeats forever by default)")
            return Data(DATASET)
        last = _keras_last(q)
        if last in _KERAS_DATASET_HELPERS:
            subset = _keyword(node, "subset")
            both = subset is not None and isinstance(subset.value, cst.SimpleString) and subset.value.evaluated_value == "both"
            shuffles = _shuffle_argument(node, None, _HELPERS_SHUFFLE.get(last, False))
            why = f"`{last}` shuffles by default" if shuffles else ""
            if both:  # (train, validation): only the training part is shuffled
                return Data(DATASET, reshuffles=why if path == (0,) else "") if len(path) == 1 and path[0] in (0, 1) else None
            return None if path else Data(DATASET, reshuffles=why)
        if last == "split_dataset":
            return Data(DATASET) if len(path) == 1 and path[0] in (0, 1) else None
        if last == "ImageDataGenerator":
            return None if path else Data(IMAGE_DATA_GENERATOR)
        if last in _KERAS_ITERATOR_CLASSES:
            return None if path else Data(ITERATOR, batch_size=_batch_size_ref(node, None, where))
        if q.startswith("keras.datasets.") and q.endswith(".load_data"):
            return Data(ARRAY) if len(path) == 2 else None
        if q in _ARRAY_TUPLE_FUNCTIONS:
            return Data(ARRAY) if len(path) == _ARRAY_TUPLE_FUNCTIONS[q] else None
        if q == "tensorflow_datasets.load":
            return self._tfds_load(node, path)
        if q == "numpy.load":
            # an .npy file holds one array; an .npz archive is a mapping of arrays
            first = node.args[0].value if node.args and node.args[0].keyword is None else None
            name = first.evaluated_value if isinstance(first, cst.SimpleString) else None
            npy = isinstance(name, str) and not name.endswith(".npz")
            return Data(ARRAY) if npy and not path else None
        if q.startswith("numpy.") and q not in _NOT_ARRAYS and not q.startswith(("numpy.testing.", "numpy.random.seed")):
            return None if path else Data(ARRAY)
        if q in _TENSOR_FACTORIES or q in _PANDAS_FACTORIES:
            return None if path else Data(ARRAY)
        if q == "builtins.list":
            return None if path else Data(LIST)
        return _UNSET

    def _zip_parts(self, node: cst.Call, where: Where) -> list:
        args = [a for a in node.args if a.keyword is None or a.keyword.value == "datasets"]
        if len(args) == 1 and isinstance(args[0].value, (cst.Tuple, cst.List)):
            return [self.data(e.value, where) for e in args[0].value.elements]
        return [self.data(a.value, where) for a in args]

    @staticmethod
    def _tfds_load(node: cst.Call, path: tuple) -> Optional[Data]:
        with_info = _keyword(node, "with_info")
        if with_info is not None and not (isinstance(with_info.value, cst.Name) and with_info.value.value == "False"):
            if not path or path[0] != 0:
                return None
            path = path[1:]
        split = _keyword(node, "split")
        if split is None:
            return None  # a dict of splits
        if isinstance(split.value, (cst.List, cst.Tuple)):
            return Data(DATASET) if len(path) == 1 else None
        if isinstance(split.value, (cst.SimpleString, cst.FormattedString, cst.ConcatenatedString)):
            return Data(DATASET) if not path else None
        return None

    def _method_data(self, node: cst.Call, func: cst.Attribute, where: Where) -> Optional[Data]:
        method = func.attr.value
        if method in _FLOW_METHODS:
            recv = self.data(func.value, where)
            if recv is not None and recv.kind == IMAGE_DATA_GENERATOR:
                shuffles = method in _FLOW_RESHUFFLES and _shuffle_argument(node, _FLOW_SHUFFLE[method], True)
                return Data(ITERATOR, batch_size=_batch_size_ref(node, _FLOW_METHODS[method], where),
                            reshuffles=f"`{method}` shuffles by default" if shuffles else "")
            return None
        if method in _ARRAY_METHODS:
            recv = self.data(func.value, where)
            return Data(ARRAY) if recv is not None and recv.kind == ARRAY else None
        if method == "as_numpy_iterator":
            recv = self.data(func.value, where)
            if recv is None or recv.kind != DATASET:
                return None
            return Data(GENERATOR, infinite=recv.infinite, why=recv.why, finite=not recv.infinite, reshuffles=recv.reshuffles)
        if method == "repeat" or method in _KEEPS_LENGTH or method in _CUTS:
            recv = self.data(func.value, where)
            if recv is None or recv.kind != DATASET:
                return None
            return self._dataset_step(recv, method, node, where)
        return None

    def _dataset_step(self, recv: Data, method: str, node: cst.Call, where: Where) -> Data:
        if method == "repeat":
            if any(a.star for a in node.args):
                return Data(DATASET)  # `repeat(*args)`: the count is unknown
            count = node.args[0] if node.args else None
            if count is None or self.none_value(count.value, where) or self.int_value(count.value, where) == -1:
                return Data(DATASET, infinite=True, why="`.repeat()` without a count", reshuffles=recv.reshuffles)
            if recv.infinite:
                return recv
            if recv.repeat is not None:
                return Data(DATASET, reshuffles=recv.reshuffles)  # repeated twice: the count of one pass is a product
            return Data(DATASET, repeat=(count.value, where), reshuffles=recv.reshuffles)
        if method == "shuffle":
            return replace(recv, reshuffles=self.shuffle_reshuffles(node, where))
        if method in ("cache", "snapshot"):
            return replace(recv, reshuffles="")  # the first pass's order is kept
        if method in _KEEPS_LENGTH:
            return recv
        if method == "take":
            n = node.args[0].value if node.args else None
            if recv.infinite and n is not None and _int_literal(n) == -1:
                return recv
            return Data(DATASET, reshuffles=recv.reshuffles)
        if method == "skip":
            return Data(DATASET, infinite=recv.infinite, why=recv.why, reshuffles=recv.reshuffles)
        if method == "concatenate":
            other = self.data(node.args[0].value, where) if node.args else None
            if recv.infinite:
                return Data(DATASET, infinite=True, why=recv.why)
            if other is not None and other.kind == DATASET and other.infinite:
                return Data(DATASET, infinite=True, why=other.why)
            return Data(DATASET)
        return Data(DATASET)  # take_while, apply: the length is no longer known

    def shuffle_reshuffles(self, node: cst.Call, where: Where) -> str:
        """`.shuffle(n)` reshuffles on every pass unless `reshuffle_each_iteration` is given and
        not literally True (positional: the third argument)."""
        arg, hidden = find_argument(node, "reshuffle_each_iteration", ("buffer_size", "seed", "reshuffle_each_iteration"))
        if hidden or any(a.star for a in node.args):
            return ""
        if arg is None or (isinstance(arg.value, cst.Name) and arg.value.value == "True"):
            return "`.shuffle()`"
        return ""

    def _local_call(self, node: cst.Call, fn: cst.FunctionDef, where: Where, path: tuple) -> Optional[Data]:
        fn_scope = self.sem.scope_for(fn)
        if fn_scope is None or fn.asynchronous is not None or not self._plain_function(fn, fn_scope):
            return None  # async, or a decorator may replace what the call returns
        env = self._param_env(node, fn, fn_scope, where)
        if self._param_reads is not None and self._steered(fn):
            self._param_reads.append(fn.name.value)  # summaries: a flag decides what it returns
        return self._returned(fn, fn_scope, env, path)

    def _returned(self, fn: cst.FunctionDef, fn_scope: Scope, env: Optional[ParamEnv], path: tuple) -> Optional[Data]:
        """What a call of `fn` gives (its parameters bound by `env`, or unknown): the generator
        it makes, or its return values merged."""
        if fn_scope.yields:
            if path:
                return None
            inner = Where(fn_scope, (), env, 0)
            return self._generator(generators.function_ends(
                fn, lambda e: self._iterable_ends(e, inner), lambda e: self._iterable_endless(e, inner)))
        return merge([self.data_at(value, Where(fn_scope, anc, env, seq), path) for value, seq, anc in fn_scope.return_sites])

    @staticmethod
    def _generator(ends: Optional[str]) -> Data:
        if ends == generators.ENDLESS:
            return Data(GENERATOR, infinite=True, why="a generator that loops forever")
        return Data(GENERATOR, finite=ends == generators.FINITE)

    # ------------------------------------------------------------------ what a `for` loop walks
    def _loop_data(self, node: cst.BaseExpression, where: Where, depth: int = 0) -> list:
        """What `node` may be, each `None` when unknown. Inside a generator function (`where`
        without ancestors) a name is every binding of it in the scope, flow-insensitively: the
        loop may run after any of them (a parameter: the caller's argument)."""
        if not isinstance(node, cst.Name) or where.ancestors:
            return [self.data(node, where)]
        if depth > 6:
            return [None]
        out = []
        for b in self.sem.lookup(node.value, where.scope):
            env = where.env
            if b.kind == "param" and env is not None and env.scope is b.scope and node.value in env.args:
                value, at = env.args[node.value]
                out.extend(self._loop_data(value, at, depth + 1))
            elif b.kind == "param":
                self._param_read(b)
                out.append(None)
            elif b.kind in ("assign", "annassign") and b.value is not None:
                out.append(self.data(b.value, self._binding_where(b, where)))
            else:
                out.append(None)
        return out or [None]

    def _iterable_ends(self, node: cst.BaseExpression, where: Where, depth: int = 0) -> bool:
        """Does a `for` loop over `node` end (a `range`, an array, a finite dataset, ...)?"""
        if depth > 6:
            return False
        if isinstance(node, (cst.Tuple, cst.List, cst.Set, cst.Dict, cst.ListComp, cst.SetComp, cst.DictComp,
                             cst.SimpleString, cst.ConcatenatedString)):
            return True
        if isinstance(node, cst.Call):
            q = _normalise(self.sem.qualified_name(node.func, where.scope))
            args = [a.value for a in node.args if a.keyword is None and not a.star]
            if q in _FINITE_ITERABLE_CALLS:
                return True
            if q in ("builtins.enumerate", "builtins.reversed", "builtins.iter"):
                return bool(args) and self._iterable_ends(args[0], where, depth + 1)
            if q == "builtins.zip":
                return any(self._iterable_ends(a, where, depth + 1) for a in args)
            if isinstance(node.func, cst.Attribute) and node.func.attr.value in _FINITE_ITERABLE_METHODS:
                return True
        return all(d is not None and (d.kind in IN_MEMORY or (d.kind == DATASET and not d.infinite) or d.finite)
                   for d in self._loop_data(node, where))

    def _iterable_endless(self, node: cst.BaseExpression, where: Where) -> bool:
        """Does a `for` loop over `node` never end (`itertools.cycle`, a `.repeat()`ed dataset,
        an ImageDataGenerator iterator)?"""
        if isinstance(node, cst.Call):
            q = self.sem.qualified_name(node.func, where.scope)
            if q in ("itertools.cycle", "itertools.count"):
                return True
            if q == "itertools.repeat":
                return len(node.args) == 1 and node.args[0].keyword is None and not node.args[0].star
        return all(d is not None and (d.infinite or d.kind == ITERATOR) for d in self._loop_data(node, where))

    def _plain_function(self, fn: cst.FunctionDef, fn_scope: Scope) -> bool:
        outer = fn_scope.parent or self.sem.module_scope
        for d in fn.decorators:
            target = d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator
            if self.sem.qualified_name(target, outer) not in _TRANSPARENT_DECORATORS:
                return False
        return True

    def _param_env(self, node: cst.Call, fn: cst.FunctionDef, fn_scope: Scope, where: Where) -> ParamEnv:
        params = [*fn.params.posonly_params, *fn.params.params]
        args: dict = {}
        position = 0
        complete = True
        for a in node.args:
            if a.star:
                complete = False
                continue
            if a.keyword is not None:
                args[a.keyword.value] = (a.value, where)
            elif position < len(params) and complete:
                args[params[position].name.value] = (a.value, where)
                position += 1
        return ParamEnv(fn_scope, args, complete)

    # ------------------------------------------------------------------ where a visited node is
    def where_at(self, node: cst.CSTNode, site) -> Where:
        """The `Where` of `node` seen during the walk at `site` (`Site.of(ctx)`). Inside the value
        of an assignment the names it binds are not bound yet (`ds = ds.batch(32)` reads the
        `ds` bound before), but the semantic model binds targets when the statement is entered:
        such a node is placed before the statement's own bindings."""
        seq = site.seq
        for anc in reversed(site.ancestors):
            if isinstance(anc, (cst.Assign, cst.AnnAssign, cst.AugAssign, cst.NamedExpr)):
                targets = [t.target for t in anc.targets] if isinstance(anc, cst.Assign) else [anc.target]
                own = [b for name in _target_names(targets) for b in self.sem.lookup(name, site.scope) if b.stmt is anc]
                if own:
                    seq = min(b.seq for b in own)
                break
            if isinstance(anc, (cst.BaseCompoundStatement, cst.Lambda)):
                break
        return Where(site.scope, site.ancestors + (node,), None, seq)

    # ------------------------------------------------------------------ pipeline steps
    def steps(self, node: cst.BaseExpression, where: Where, _depth: int = 0) -> list:
        """The dataset method calls that built `node`, oldest first, as `Step`s: the receivers
        of a method chain, and through a name the one assignment that reaches it
        (`ds = ds.batch(32)`). It stops where that is not known (a parameter, a name bound on
        two paths, a call that is not a dataset method), so the list may start mid-pipeline."""
        out: list = []
        for _ in range(60):
            if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and (
                node.func.attr.value in _KEEPS_LENGTH or node.func.attr.value in _CUTS or node.func.attr.value == "repeat"
            ):
                out.append(Step(node.func.attr.value, node, where))
                node = node.func.value
                continue
            if isinstance(node, cst.Name):
                bindings = self.reaching(node.value, where)
                if len(bindings) == 1 and bindings[0].kind in ("assign", "annassign") and bindings[0].value is not None:
                    b = bindings[0]
                    node, where = b.value, self._binding_where(b, where)
                    continue
            break
        out.reverse()
        return out

    # ------------------------------------------------------------------ project summaries
    def returned_fact(self, fn: cst.FunctionDef) -> Optional[dict]:
        """What any call of module-level function `fn` returns, as a summary fact (see
        `fact_data`), or None: not known, or it depends on what the caller passes (a parameter's
        value is read, or steers a branch: `def make(x, y, repeat=True)`)."""
        fn_scope = self.sem.scope_for(fn)
        if fn_scope is None or fn.asynchronous is not None or not self._plain_function(fn, fn_scope):
            return None
        if not fn_scope.yields and not fn_scope.return_sites:
            return None

        shape = [value for value, _, _ in fn_scope.return_sites] if not fn_scope.yields else []
        fact = self._recorded(lambda path: self._returned(fn, fn_scope, None, path), shape)
        return None if fact is None or self._steered(fn) else fact

    def _steered(self, fn: cst.FunctionDef) -> bool:
        key = ("steered", id(fn))
        if key not in self._random_memo:  # (kept across facts: it depends on the code only)
            self._random_memo[key] = _steering_parameters(fn)
        return self._random_memo[key]

    def class_fact(self, cls: cst.ClassDef) -> Optional[dict]:
        """What instances of a module-level class are, as a summary fact (a PyDataset/Sequence)."""
        if self.sem.class_derives_from(cls, _PYDATASET_BASES) is True:
            return {"kind": PYDATASET}
        return None

    def value_fact(self, b: Binding) -> Optional[dict]:
        """What a module-level assignment binds, as a summary fact (see `returned_fact`)."""
        if b.kind not in ("assign", "annassign", "other"):
            return None
        where = Where(b.scope, (), None, AFTER_ALL)
        return self._recorded(lambda path: self._binding_data(b, b.name, where, path), [b.value])

    def _recorded(self, result, shape: list) -> Optional[dict]:
        """The fact of `result(path)` (a tuple's elements, two levels deep, when the value is
        not one `Data`), None when it read a parameter's value."""
        self._param_reads = []
        self._memo.clear()  # answers cached without recording may hide a parameter's read
        try:
            fact = self._fact_of(result, (), shape)
            return None if self._param_reads else fact
        finally:
            self._param_reads = None
            self._memo.clear()

    def _fact_of(self, result, path: tuple, shape: list) -> Optional[dict]:
        d = result(path)
        if d is not None:
            return self._data_fact(d)
        if len(path) >= 2:
            return None
        width = _tuple_width(shape) if not path else None
        if width is None:
            # not a tuple literal: a call or a name may still give a tuple (`subset="both"`,
            # `load_data()`); its first two elements tell whether the rest are worth asking
            if not path and not all(isinstance(v, (cst.Call, cst.Name)) for v in shape):
                return None
            first = [self._fact_of(result, path + (i,), []) for i in range(2)]
            if first == [None, None]:
                return None
            items = first + [self._fact_of(result, path + (i,), []) for i in range(2, _MAX_ITEMS)]
        else:
            items = [self._fact_of(result, path + (i,), []) for i in range(width)]
        while items and items[-1] is None:
            items.pop()
        return {"items": items} if items else None

    def _data_fact(self, d: Data) -> Optional[dict]:
        out: dict = {"kind": d.kind}
        if d.infinite:
            out["infinite"], out["why"] = True, d.why
        if d.finite:
            out["finite"] = True
        if d.reshuffles:
            out["reshuffles"] = d.reshuffles
        for key, ref in (("repeat", d.repeat), ("batch_size", d.batch_size)):
            if ref is not None:
                n = self.int_value(*ref)
                out[key] = n if n is not None and n >= 0 else None  # null: given, its value not known
        return out

    def _project_data(self, qname: Optional[str], path: tuple, where: Where) -> Optional[Data]:
        """A module-level value of another project module (`from data import train_ds`)."""
        project = self.sem.project
        fact = project.fact(qname) if project is not None and qname else None
        if fact is None or fact.get("kind") != "value":
            return None
        return fact_data(fact.get("data"), path, where)

    # ------------------------------------------------------------------ random map functions
    def random_map(self, call: cst.Call, where: Where) -> Optional[str]:
        """For `ds.map(fn)`: what makes `fn` draw new random values on every call
        (`tf.random.uniform`, `tf.image.random_flip_left_right`, a Keras `Random*` layer or a
        `Sequential` of them), or None when nothing is known to. `fn` is a lambda, or a
        same-module function (and the same-module functions it calls, two levels deep)."""
        arg, _ = find_argument(call, "map_func", ("map_func",))
        if arg is None:
            return None
        return self._random_in(arg.value, where, 0)

    def _random_in(self, fn_node: cst.BaseExpression, where: Where, depth: int) -> Optional[str]:
        if depth > 2:
            return None
        if isinstance(fn_node, cst.Lambda):
            body, scope = fn_node.body, where.scope
        else:
            local = self.sem.local_def(fn_node, where.scope)
            if not isinstance(local, cst.FunctionDef):
                return self._random_callable(fn_node, where)
            body, scope = local.body, self.sem.scope_for(local) or where.scope
        return self._random_body(body, scope, depth)

    def _random_body(self, body: cst.CSTNode, scope: Scope, depth: int) -> Optional[str]:
        """What makes a function body (its nested functions too: they may run) random."""
        key = (id(body), depth)
        if key not in self._random_memo:
            self._random_memo[key] = None  # recursion guard
            self._random_memo[key] = self._random_calls(body, scope, depth)
        return self._random_memo[key]

    def _random_calls(self, body: cst.CSTNode, scope: Scope, depth: int) -> Optional[str]:
        calls = self._random_memo.get(id(body))
        if calls is None:  # a body's calls, listed once whatever the depth it is asked at
            calls = self._random_memo[id(body)] = [n for n in iter_nodes(body) if n.__class__ is cst.Call]
        for c in calls:
            why = self._random_callable(c.func, Where(scope, (), None, 0))
            if why is None and depth < 2:
                local = self.sem.local_def(c.func, scope)
                if isinstance(local, cst.FunctionDef):
                    why = self._random_in(c.func, Where(scope, (), None, 0), depth + 1)
            if why is not None:
                return why
        return None

    def _random_callable(self, func: cst.BaseExpression, where: Where) -> Optional[str]:
        """Is calling `func` random: a random op, a Keras Random* layer (built inline, or a name
        bound to one or to a Sequential holding one)?"""
        if isinstance(func, cst.Call):  # `layers.RandomFlip("horizontal")(x)`
            return _random_layer(self.sem.qualified_name(func.func, where.scope))
        if self.sem.project is not None and isinstance(func, (cst.Name, cst.Attribute)):
            fact = self.sem.project_fact(func, where.scope)  # `from augment import augment`
            if fact is not None:
                why = fact.get("random")
                return why if isinstance(why, str) and why else None
        q = self.sem.qualified_name(func, where.scope)
        if q is not None:
            if q.startswith("tensorflow.random.") and q.rsplit(".", 1)[1] in _RANDOM_OPS:
                return f"`{q.replace('tensorflow.', 'tf.')}`"
            if q.startswith("tensorflow.image.random_"):
                return f"`{q.replace('tensorflow.', 'tf.')}`"
        if isinstance(func, cst.Name):
            for b in self.sem.lookup(func.value, where.scope):
                why = self._random_binding(b)
                if why is not None:
                    return why
        return None

    def _random_binding(self, b: Binding) -> Optional[str]:
        """`aug = layers.RandomFlip(...)` or a Keras `Sequential` holding a Random* layer."""
        if b.kind not in ("assign", "annassign") or not isinstance(b.value, cst.Call):
            return None
        bq = self.sem.qualified_name(b.value.func, b.scope)
        why = _random_layer(bq)
        if why is None and bq is not None and bq.rsplit(".", 1)[-1] == "Sequential" and N.is_keras_name(bq):
            for a in b.value.args[:1]:
                if isinstance(a.value, (cst.List, cst.Tuple)):
                    for el in a.value.elements:
                        if isinstance(el.value, cst.Call):
                            why = why or _random_layer(self.sem.qualified_name(el.value.func, b.scope))
        return why

    def random_fact(self, b: Binding) -> Optional[str]:
        """Summaries: what makes calling a module-level function or value random (`random_map`),
        or None; a function a parameter steers (`if training:`) is not known to be."""
        if b.kind == "def" and isinstance(b.value, cst.FunctionDef):
            p = b.value.params
            if not (p.posonly_params or p.params or isinstance(p.star_arg, cst.Param)):
                return None  # `ds.map(fn)` passes fn the elements: it takes a positional parameter
            scope = self.sem.scope_for(b.value)
            why = self._random_body(b.value.body, scope, 0) if scope is not None else None
            return None if why is None or self._steered(b.value) else why
        return self._random_binding(b)

    # ------------------------------------------------------------------ values
    def int_value(self, node: cst.CSTNode, where: Where, _depth: int = 0) -> Optional[int]:
        """The integer an expression is known to hold (a literal, or a name bound to one)."""
        if _depth > 10:
            return None
        lit = _int_literal(node)
        if lit is not None:
            return lit
        if isinstance(node, cst.Name):
            values = set()
            bindings = self.reaching(node.value, where)
            if not bindings:
                return None
            for b in bindings:
                target = self._resolve_binding_value(b, node.value, where)
                if target is None:
                    return None
                v = self.int_value(target[0], target[1], _depth + 1)
                if v is None:
                    return None
                values.add(v)
            return values.pop() if len(values) == 1 else None
        return None

    def none_value(self, node: cst.CSTNode, where: Where, _depth: int = 0) -> bool:
        """Is `node` known to be None (the literal, a name bound to it, an omitted parameter
        whose default is None)?"""
        if _depth > 10:
            return False
        node, where = self.through_params(node, where)
        if is_none(node):
            return True
        if not isinstance(node, cst.Name):
            return False
        bindings = self.reaching(node.value, where)
        if not bindings:
            return False
        for b in bindings:
            if b.kind == "param":
                param = b.value
                env = where.env
                omitted = env is not None and env.scope is b.scope and env.complete and node.value not in env.args
                if not (omitted and isinstance(param, cst.Param) and is_none(param.default)):
                    if not (env is not None and env.scope is b.scope and node.value in env.args):
                        self._param_read(b)
                    return False
                continue
            target = self._resolve_binding_value(b, node.value, where)
            if target is None or not self.none_value(target[0], target[1], _depth + 1):
                return False
        return True

    def _resolve_binding_value(self, b: Binding, name: str, where: Where) -> Optional[Ref]:
        if b.kind == "param":
            env = where.env
            if env is not None and env.scope is b.scope and name in env.args:
                return env.args[name]
            self._param_read(b)
            return None
        if b.kind in ("assign", "annassign") and b.value is not None:
            return (b.value, self._binding_where(b, where))
        return None

    def same_value(self, a: Ref, b: Ref, _depth: int = 0) -> bool:
        """Do two expressions provably hold the same value (same constant, same binding)?"""
        (na, wa), (nb, wb) = a, b
        if _depth > 10:
            return False
        va, vb = self.int_value(na, wa), self.int_value(nb, wb)
        if va is not None and vb is not None:
            return va == vb
        na, wa = self.through_params(na, wa)
        nb, wb = self.through_params(nb, wb)
        if isinstance(na, cst.Name) and isinstance(nb, cst.Name):
            if na.value != nb.value:
                return False
            ra, rb = self.reaching(na.value, wa), self.reaching(nb.value, wb)
            return bool(ra) and {id(x) for x in ra} == {id(x) for x in rb}
        if isinstance(na, cst.Attribute) and isinstance(nb, cst.Attribute):
            return na.attr.value == nb.attr.value and self.same_value((na.value, wa), (nb.value, wb), _depth + 1)
        return False

    def through_params(self, node: cst.CSTNode, where: Where) -> Ref:
        """The caller's argument for a parameter of a called same-module function (else the node)."""
        for _ in range(10):
            if not isinstance(node, cst.Name) or where.env is None:
                break
            bindings = self.reaching(node.value, where)
            if len(bindings) != 1 or bindings[0].kind != "param" or node.value not in where.env.args:
                break
            if bindings[0].scope is not where.env.scope:
                break
            node, where = where.env.args[node.value]
        return node, where

    # ------------------------------------------------------------------ sample counts (EPL303)
    def sample_count(self, node: cst.BaseExpression, where: Where, _depth: int = 0) -> Optional[SampleCount]:
        """Is `node` a number of samples (`gen.samples`, `gen.n`, `len(x_train)`, `x.shape[0]`)?"""
        if _depth > 10:
            return None
        code = _code(node)
        if isinstance(node, cst.Call) and len(node.args) == 1 and not node.args[0].star and node.args[0].keyword is None:
            q = self.sem.qualified_name(node.func, where.scope)
            arg = node.args[0].value
            if q in ("builtins.int", "builtins.round"):
                return self.sample_count(arg, where, _depth + 1)
            if q == "builtins.len":
                d = self.data(arg, where)
                if d is not None and d.kind == ARRAY:
                    return SampleCount(f"`{code}` (the number of samples in the array)", ARRAY)
            return None
        if isinstance(node, cst.Attribute) and node.attr.value in ("samples", "n"):
            d = self.data(node.value, where)
            if d is not None and d.kind == ITERATOR:
                return SampleCount(f"`{code}` (the number of samples the iterator yields)", ITERATOR, batch_size=d.batch_size)
            return None
        if isinstance(node, cst.Subscript) and _is_shape_0(node):
            base = node.value.value  # type: ignore[attr-defined]
            d = self.data(base, where)
            if d is not None and d.kind == ARRAY:
                return SampleCount(f"`{code}` (the number of samples in the array)", ARRAY)
            if d is None:
                return SampleCount(f"`{code}` (the first dimension: a number of samples)", ARRAY, known=False)
            return None
        if isinstance(node, cst.Name):
            bindings = self.reaching(node.value, where)
            counts = []
            for b in bindings:
                target = self._resolve_binding_value(b, node.value, where)
                counts.append(self.sample_count(target[0], target[1], _depth + 1) if target else None)
            if counts and all(c is not None for c in counts):
                first = counts[0]
                return replace(first, text=f"`{node.value}` = {first.text}", known=all(c.known for c in counts))
        return None


# --------------------------------------------------------------------------- helpers
_RANDOM_OPS = frozenset({"uniform", "normal", "truncated_normal", "shuffle", "categorical", "gamma", "poisson"})


def _random_layer(q: Optional[str]) -> Optional[str]:
    """`keras.layers.RandomFlip` & co. (Keras's random preprocessing/augmentation layers)."""
    if q is None or not N.is_keras_name(q) or ".layers." not in q:
        return None
    last = q.rsplit(".", 1)[-1]
    return f"`{last}`" if last.startswith("Random") and len(last) > 6 else None


_MAX_ITEMS = 4  # elements of a returned tuple a summary describes (`return train, val, test`)
_FACT_KINDS = frozenset({DATASET, GENERATOR, ITERATOR, PYDATASET, ARRAY, LIST, IMAGE_DATA_GENERATOR})


def fact_data(fact, path: tuple, where: Where) -> Optional[Data]:
    """The `Data` a summary fact describes (`DataFlow.returned_fact`), at `path` of a tuple:

        {"kind": "dataset", "infinite": true, "why": "...", "finite": true, "reshuffles": "...",
         "repeat": 3, "batch_size": 1}      (every key but "kind" optional)
        {"items": [fact | null, ...]}        a tuple of values

    A repeat count or batch size becomes an integer literal evaluated at `where` (the importer's
    use); null stands for one given whose value is not known there (`batch_size=cfg.BATCH`).
    Anything malformed is None (unknown): summaries come from a cache file."""
    for i in path:
        items = fact.get("items") if isinstance(fact, dict) else None
        if not isinstance(items, list) or not isinstance(i, int) or not 0 <= i < len(items):
            return None
        fact = items[i]
    if not isinstance(fact, dict) or fact.get("kind") not in _FACT_KINDS:
        return None
    repeat, batch = _count_ref(fact, "repeat", where), _count_ref(fact, "batch_size", where)
    if repeat is _UNSET or batch is _UNSET:
        return None
    why, reshuffles = fact.get("why", ""), fact.get("reshuffles", "")
    if not isinstance(why, str) or not isinstance(reshuffles, str):
        return None
    infinite = fact.get("infinite") is True
    return Data(fact["kind"], infinite, why if infinite else "", repeat, batch, fact.get("finite") is True, reshuffles)


def _count_ref(fact: dict, key: str, where: Where):
    """A fact's repeat count or batch size as the `Ref` a `Data` holds: an integer literal, an
    expression nothing is known of for null (given, value unknown), None when absent, `_UNSET`
    when malformed."""
    if key not in fact:
        return None
    value = fact[key]
    if value is None:
        return (cst.Ellipsis(), where)
    if type(value) is not int or value < 0:
        return _UNSET
    return (cst.Integer(str(value)), where)


def _tuple_width(returned: list) -> Optional[int]:
    """How many elements a returned tuple has (every `return` a tuple literal of one length,
    at most `_MAX_ITEMS`), else None."""
    widths = {len(v.elements) if isinstance(v, cst.Tuple) else None for v in returned}
    if len(widths) == 1:
        w = widths.pop()
        if w is not None:
            return min(w, _MAX_ITEMS)
    return None


_TESTS = {cst.If: "test", cst.While: "test", cst.IfExp: "test", cst.BooleanOperation: "left",
          cst.Match: "subject", cst.CompIf: "test"}


def _steering_parameters(fn: cst.FunctionDef) -> bool:
    """Does a parameter steer a branch of `fn` (`if repeat:`, `ds if training else ...`, `a or
    b`, a `match`), in its own frame? Then what it returns depends on the caller's flags."""
    p = fn.params
    params = {q.name.value for q in (*p.posonly_params, *p.params, *p.kwonly_params)}
    for star in (p.star_arg, p.star_kwarg):
        if isinstance(star, cst.Param):
            params.add(star.name.value)
    if not params:
        return False
    for node in iter_nodes(fn.body, skip=(cst.FunctionDef, cst.ClassDef, cst.Lambda)):
        field = _TESTS.get(node.__class__)
        if field is not None:
            for n in iter_nodes(getattr(node, field)):
                if n.__class__ is cst.Name and n.value in params:
                    return True
    return False


def merge(results: list) -> Optional[Data]:
    """All paths agree on the kind -> that kind; infinite only if every path is."""
    if not results or any(r is None for r in results):
        return None
    first = results[0]
    if len(results) == 1:
        return first
    if any(r.kind != first.kind for r in results):
        return None
    infinite = all(r.infinite for r in results)
    repeat = first.repeat if all(r.repeat is not None and r.repeat[0] is first.repeat[0] for r in results) else None
    batch = first.batch_size if all(r.batch_size is first.batch_size for r in results) else None
    finite = all(r.finite for r in results)
    reshuffles = first.reshuffles if all(r.reshuffles for r in results) else ""
    return Data(first.kind, infinite, first.why if infinite else "", repeat, batch, finite, reshuffles)


def _annotation_data(q: Optional[str]) -> Optional[Data]:
    q = _normalise(q)
    if q in _DATASET_CLASSES:
        return Data(DATASET)
    last = _keras_last(q)
    if q in _PYDATASET_BASES:
        return Data(PYDATASET)
    if last in _KERAS_ITERATOR_CLASSES:
        return Data(ITERATOR)
    if q == "numpy.ndarray":
        return Data(ARRAY)
    return None


def _target_names(targets) -> list:
    """The plain names an assignment's targets bind (`a, (b, c) = ...` -> a, b, c)."""
    out: list = []
    for t in targets:
        if isinstance(t, cst.Name):
            out.append(t.value)
        elif isinstance(t, (cst.Tuple, cst.List)):
            out.extend(_target_names([e.value for e in t.elements]))
        elif isinstance(t, cst.StarredElement):
            out.extend(_target_names([t.value]))
    return out


def _target_path(target: cst.BaseExpression, name: str) -> Optional[tuple]:
    """Index path of `name` inside a (nested) tuple/list assignment target."""
    if isinstance(target, cst.Name):
        return () if target.value == name else None
    if isinstance(target, (cst.Tuple, cst.List)):
        for i, el in enumerate(target.elements):
            if isinstance(el, cst.StarredElement):
                if _target_path(el.value, name) is not None:
                    return None
                continue
            sub = _target_path(el.value, name)
            if sub is not None:
                if any(isinstance(e, cst.StarredElement) for e in target.elements[:i]):
                    return None
                return (i,) + sub
    return None


def _keyword(call: cst.Call, name: str) -> Optional[cst.Arg]:
    return find_argument(call, name)[0]


def _batch_size_ref(call: cst.Call, index: Optional[int], where: Where) -> Optional[Ref]:
    """`batch_size=` of an iterator factory, by keyword or at position `index`."""
    params = ("",) * index + ("batch_size",) if index is not None else ()
    arg, _ = find_argument(call, "batch_size", params)
    return (arg.value, where) if arg is not None else None


def _shuffle_argument(call: cst.Call, index: Optional[int], default: bool) -> bool:
    """Is the call's `shuffle` argument (keyword, or at position `index`) known to be on?
    Absent: `default`; anything but the literals True/False: not known (False)."""
    params = ("",) * index + ("shuffle",) if index is not None else ()
    arg, hidden = find_argument(call, "shuffle", params)
    if arg is None:
        return default and not hidden
    return isinstance(arg.value, cst.Name) and arg.value.value == "True"


def _int_literal(node: Optional[cst.CSTNode]) -> Optional[int]:
    if isinstance(node, cst.Integer):
        try:
            return int(node.evaluated_value)
        except ValueError:
            return None
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        v = _int_literal(node.expression)
        return -v if v is not None else None
    return None


def _is_shape_0(node: cst.Subscript) -> bool:
    value = node.value
    if not (isinstance(value, cst.Attribute) and value.attr.value == "shape"):
        return False
    if len(node.slice) != 1:
        return False
    index = node.slice[0].slice
    return isinstance(index, cst.Index) and _int_literal(index.value) == 0


_EMPTY_MODULE = cst.Module(body=[])


def _code(node: cst.CSTNode) -> str:
    return _EMPTY_MODULE.code_for_node(node).strip()
