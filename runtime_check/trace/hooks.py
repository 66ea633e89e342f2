"""The instrumentation `epochlint trace` installs in the child process before the script runs.

Small and removable: `Tracer.install()` returns after patching a handful of attributes, and
`Tracer.uninstall()` puts every original back. A Keras callback (`_probe_class`) observes
`fit`/`evaluate` epochs and batches; thin wrappers exist only where no documented hook does:

  Model.fit/evaluate/predict     call site, epochs requested/run, initial_epoch, the callback
  Model.compile/evaluate/predict `epochs=` passed where it does not belong (EPL102), and the
  Model/Functional/Sequential    Keras 1 names and other arguments Keras rejected (EPL103); what
  __init__                       the input is (EPL301-305). The constructors' wrappers carry the
                                 original's `__signature__`: Keras 3 reads their argspec
  Model/Metric __getattr__       (added to the class: Python calls it only after normal lookup
                                 failed) fit_generator/reset_states used from user code, then the
                                 same AttributeError (EPL106/EPL207; tf_keras: the methods wrapped)
  Model.__setattr__("epochs")    the attribute fit() ignores (EPL101)
  Model.__call__                 a model with Dropout/BatchNormalization/noise layers called
                                 under an active GradientTape, and its `training` value (EPL202)
  GradientTape.gradient          the target's shape (EPL201) and, eagerly, its mean per step
  tf.function / Function.__call__  functions created per site, traces per function, Python
                                 numbers among the arguments of a call that traced (EPL203/206);
                                 while a call builds its graph (`func_graph_from_py_func`),
                                 a `sys.setprofile` hook (this thread only) counts print,
                                 outer-list appends and `.numpy()` on symbolic tensors (EPL205)
  Optimizer.__init__             optimizers created per site, their `iterations` and the
                                 variables they update, read at the end (EPL204)
  Model.losses (property)        read since the last tape.gradient, for models with
                                 regularizers called under the tape (EPL209)
  Metric update_state/result/    metric updates and reads from user code, and resets (EPL208)
  reset_state, Metric.__call__

Every wrapper calls the original with the same arguments and returns its result; the only
change to what the script computes is `--max-steps` (the callback sets `stop_training` after N
batches of an epoch and clears it at the epoch's end, so the number of epochs is unchanged;
validation and `evaluate` are capped the same way; `predict` never is, its output is data).
Facts are attributed to the user's frame (facts.Sites); calls Keras makes internally are not
recorded.
"""
from __future__ import annotations

import builtins
import dis
import functools
import hashlib
import inspect
import itertools
import math
import os
import sys
import threading
from typing import Any, Callable, Optional

from runtime_check.trace.facts import Classifier, Sink, Sites

TRAINING_LAYER_CLASSES = frozenset({
    "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "AlphaDropout", "GaussianDropout",
    "GaussianNoise", "BatchNormalization", "SyncBatchNormalization",
})
_MISSING = "missing"
KERAS1_ARGUMENTS = frozenset({"nb_epoch", "samples_per_epoch", "nb_val_samples", "val_samples"})
REMOVED_MODEL_METHODS = frozenset({"fit_generator", "evaluate_generator", "predict_generator"})
REMOVED_METRIC_METHODS = frozenset({"reset_states"})
_ATTRIBUTE_LOADS = frozenset(op for op in (dis.opmap.get("LOAD_ATTR"), dis.opmap.get("LOAD_METHOD")) if op is not None)
_LIST_METHODS = frozenset({"append", "extend", "insert"})
_PRINT = builtins.print


def _float(value: Any) -> Optional[float]:
    try:
        out = float(value)
    except (TypeError, ValueError):
        try:
            import numpy as np

            out = float(np.mean(np.asarray(value)))
        except Exception:  # noqa: BLE001
            return None
    return out if out == out else None  # NaN -> None (JSON)


class Tracer:
    def __init__(self, sink: Sink, max_steps: int):
        self.sink = sink
        self.max_steps = max_steps
        self.patches: list[tuple[Any, str, Any, bool]] = []
        self.ids: dict[int, int] = {}
        self.keep: list[Any] = []  # objects we hand ids to stay alive: ids never get reused
        self.counter = itertools.count(1)
        self.lock = threading.Lock()
        self.local = threading.local()
        self.user_functions: dict[int, dict] = {}
        self.optimizers: list[tuple[int, Any]] = []
        self.training_layers: dict[int, list[str]] = {}
        self.user_metrics: set[int] = set()
        self.regularized: dict[int, bool] = {}
        self.modules: dict[str, Any] = {}
        self.sites: Optional[Sites] = None

    # -- bookkeeping -------------------------------------------------------------------------
    def ref(self, obj: Any) -> int:
        key = id(obj)
        with self.lock:
            got = self.ids.get(key)
            if got is None:
                got = self.ids[key] = next(self.counter)
                self.keep.append(obj)
            return got

    def site(self, immediate: bool = True) -> Optional[dict]:
        return self.sites.user_site(skip=0, immediate=immediate)

    def _patch(self, owner: Any, name: str, make: Callable[[Any], Any]) -> None:
        had = name in vars(owner)
        original = vars(owner)[name] if had else getattr(owner, name)
        wrapper = make(original)
        setattr(owner, name, wrapper)
        self.patches.append((owner, name, original, had))

    def _add(self, owner: Any, name: str, value: Any) -> None:
        """Set an attribute the class does not define itself (uninstall deletes it)."""
        setattr(owner, name, value)
        self.patches.append((owner, name, None, False))

    def uninstall(self) -> None:
        for owner, name, original, had in reversed(self.patches):
            if had:
                setattr(owner, name, original)
            else:
                try:
                    delattr(owner, name)
                except AttributeError:  # pragma: no cover
                    pass
        self.patches.clear()

    # -- installation ------------------------------------------------------------------------
    def install(self) -> dict:
        """Import TensorFlow (and Keras), patch, and return version facts."""
        import tensorflow as tf

        self.modules["tf"] = tf
        legacy = os.environ.get("TF_USE_LEGACY_KERAS", "").lower() in ("1", "true", "yes")
        keras_mods = []
        info = {"tensorflow_version": tf.__version__, "legacy_keras": legacy}
        if legacy:
            try:
                import tf_keras

                keras_mods.append(("tf_keras", tf_keras))
                info["keras_version"] = tf_keras.__version__
            except ImportError:
                pass
        if os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow":
            try:
                import keras

                keras_mods.append(("keras", keras))
                info.setdefault("keras_version", keras.__version__)
            except ImportError:  # pragma: no cover
                pass
        framework_dirs = tuple(os.path.dirname(m.__file__) for _, m in keras_mods) + (os.path.dirname(tf.__file__),)
        self.sites = Sites(Classifier(framework_dirs))
        self._install_tf(tf)
        for name, mod in keras_mods:
            self._install_keras(name, mod)
        return info

    def _install_tf(self, tf) -> None:
        self._patch(tf.GradientTape, "gradient", self._wrap_gradient)
        from tensorflow.python.eager.polymorphic_function import polymorphic_function as pf

        self._patch(pf.Function, "__call__", self._wrap_function_call)
        for module_name in ("tensorflow", "tensorflow.compat.v2"):
            module = sys.modules.get(module_name)
            if module is not None and "function" in vars(module):
                self._patch(module, "function", self._wrap_tf_function)
        from tensorflow.python.eager import record

        self.modules["record"] = record
        try:
            from tensorflow.python.framework import tensor as tensor_module

            self.modules["tensor_getattr"] = tensor_module.Tensor.__getattr__.__code__
        except (ImportError, AttributeError):  # pragma: no cover - moved: EPL205 goes unobserved
            self.modules["tensor_getattr"] = None
        try:
            from tensorflow.python.framework import func_graph

            self._patch(func_graph, "func_graph_from_py_func", self._wrap_graph_building)
            self.modules["trace_hook"] = True
        except (ImportError, AttributeError):  # pragma: no cover - moved: watch whole calls instead
            self.modules["trace_hook"] = False

    def _install_keras(self, name: str, keras) -> None:
        Model = keras.Model
        callback_base = keras.callbacks.Callback
        self.modules[f"{name}.probe"] = _probe_class(callback_base)
        for method in ("fit", "evaluate", "predict"):
            self._patch(Model, method, lambda orig, m=method, n=name: self._wrap_fit(orig, m, n))
        self._patch(Model, "compile", lambda orig: self._wrap_epochs_kwarg(orig, "compile"))
        self._patch(Model, "__call__", lambda orig, n=name: self._wrap_model_call(orig, n))
        self._patch(Model, "__setattr__", self._wrap_setattr)
        opt = getattr(keras.optimizers, "Optimizer", None)
        if opt is not None:
            self._patch(opt, "__init__", self._wrap_optimizer_init)
        losses = inspect.getattr_static(Model, "losses", None)
        if isinstance(losses, property):
            self._patch(Model, "losses", self._wrap_losses)
        self._install_metrics(keras.metrics.Metric)
        self._install_constructors(name, keras)
        self._install_removed(Model, REMOVED_MODEL_METHODS)
        self._install_removed(keras.metrics.Metric, REMOVED_METRIC_METHODS, wrap_existing=False)  # _wrap_metric
        if name == "keras":
            try:
                from keras.src.trainers.epoch_iterator import EpochIterator

                self._patch(EpochIterator, "_interrupted_warning", self._wrap_ran_out)
            except ImportError:  # pragma: no cover
                pass

    # -- fit / evaluate / predict ------------------------------------------------------------
    def _wrap_fit(self, orig, method: str, framework: str):
        tracer = self
        signature = inspect.signature(orig)

        @functools.wraps(orig)

        def wrapper(model, *args, **kwargs):
            site = tracer.site()
            if site is None:
                return orig(model, *args, **kwargs)
            try:
                bound = signature.bind(model, *args, **kwargs)
            except TypeError:  # Keras raises its own error; record the arguments that caused it
                try:
                    return orig(model, *args, **kwargs)
                except BaseException as exc:
                    tracer._epochs_kwarg(model, method, kwargs, site, _error(exc))
                    tracer.sink.emit("call_rejected", method=method, model_class=type(model).__name__,
                                     keywords=sorted(kwargs), error=_error(exc), **site)
                    raise
            arguments = bound.arguments
            extra = arguments.get("kwargs", {}) if "kwargs" in signature.parameters else {}
            call_id = next(tracer.counter)
            model_id = tracer.ref(model)
            tf = tracer.modules["tf"]
            batch_size = arguments.get("batch_size", extra.get("batch_size"))
            fields = {"call": call_id, "method": method, "model": model_id, "model_class": type(model).__name__,
                      **site, "data": type(arguments.get("x")).__name__, "max_steps": tracer.max_steps,
                      "keywords": sorted(kwargs), "batch_size": _jsonable_int(batch_size),
                      "data_info": _data_info(tf, arguments.get("x"), batch_size,
                                              arguments.get("validation_split") if method == "fit" else None)}
            if method == "fit":
                validation_data = arguments.get("validation_data")
                val_x = validation_data[0] if isinstance(validation_data, (tuple, list)) else validation_data
                fields.update(epochs=arguments.get("epochs", 1), initial_epoch=arguments.get("initial_epoch", 0),
                              initial_epoch_passed="initial_epoch" in arguments,
                              steps_per_epoch=arguments.get("steps_per_epoch"),
                              validation_steps=arguments.get("validation_steps"),
                              validation_split=_float(arguments.get("validation_split")),
                              validation=validation_data is not None or bool(arguments.get("validation_split")),
                              validation_info=None if validation_data is None else _data_info(
                                  tf, val_x, arguments.get("validation_batch_size") or batch_size),
                              weights=_fingerprint(model), trainable=_trainable_count(model),
                              model_epochs_attr=_epochs_attr(model))
            else:
                fields.update(steps=arguments.get("steps"))
            if method != "fit" and ("epochs" in kwargs or "epochs" in extra):
                fields["epochs_kwarg"] = kwargs.get("epochs", extra.get("epochs"))
            tracer.sink.emit("call_begin", **fields)
            probe = tracer.modules[f"{framework}.probe"](tracer, call_id, method)
            callbacks = arguments.get("callbacks")
            attached = callbacks is None or isinstance(callbacks, (list, tuple))
            if attached:
                arguments["callbacks"] = [probe, *(callbacks or [])]
            else:  # a CallbackList of the user's own: leave it alone, epochs are then not counted
                tracer.sink.emit("probe_not_attached", call=call_id)
            stack = getattr(tracer.local, "calls", None)
            if stack is None:
                stack = tracer.local.calls = []
            stack.append(call_id)
            error = None
            try:
                return orig(*bound.args, **bound.kwargs)
            except BaseException as exc:
                error = _error(exc)
                raise
            finally:
                stack.pop()
                if "epochs_kwarg" in fields:
                    tracer._epochs_kwarg(model, method, {"epochs": fields["epochs_kwarg"]}, site, error)
                end = {"call": call_id, "epochs_run": probe.epochs_run, "batches": probe.batches_total,
                       "error": error}
                if method == "fit":
                    end["weights"] = _fingerprint(model)
                tracer.sink.emit("call_end", **end)

        return wrapper

    def _wrap_ran_out(self, orig):
        tracer = self

        @functools.wraps(orig)

        def wrapper(iterator, *args, **kwargs):
            calls = getattr(tracer.local, "calls", None)
            if calls:
                tracer.sink.emit("ran_out_of_data", call=calls[-1])
            return orig(iterator, *args, **kwargs)

        return wrapper

    # -- EPL101 / EPL102 ---------------------------------------------------------------------
    def _epochs_kwarg(self, model, method: str, kwargs: dict, site: dict, error: Optional[dict] = None) -> None:
        if "epochs" in kwargs:
            self.sink.emit("epochs_kwarg", method=method, model=self.ref(model), value=_float(kwargs["epochs"]),
                           error=error, **site)

    def _wrap_epochs_kwarg(self, orig, method: Optional[str]):
        """`epochs=` given to `orig`: a model method (`method`) or, with `method` None, a model
        constructor, reported at the line that constructs the model, named by the model's class,
        and carrying the original's `__signature__` (see `_install_constructors`)."""
        tracer = self

        @functools.wraps(orig)
        def wrapper(model, *args, **kwargs):
            if "epochs" not in kwargs:
                return orig(model, *args, **kwargs)
            site = tracer.site()
            if site is None:  # Keras's own calls (e.g. its super().__init__ chain)
                return orig(model, *args, **kwargs)
            if method is None:
                site = tracer._construction_site(model) or site
            called = method or type(model).__name__
            try:
                result = orig(model, *args, **kwargs)
            except BaseException as exc:
                tracer._epochs_kwarg(model, called, kwargs, site, _error(exc))
                raise
            tracer._epochs_kwarg(model, called, kwargs, site)
            return result

        if method is None:
            try:
                wrapper.__signature__ = inspect.signature(orig)
            except (TypeError, ValueError):  # pragma: no cover
                pass
        return wrapper

    def _wrap_setattr(self, orig):
        tracer = self

        @functools.wraps(orig)

        def wrapper(model, name, value):
            if name == "epochs":
                site = tracer.site()
                if site is not None:
                    tracer.sink.emit("epochs_attr", model=tracer.ref(model), value=_float(value), **site)
            return orig(model, name, value)

        return wrapper

    def _install_constructors(self, name: str, keras) -> None:
        """`epochs=` given to a model constructor (EPL102). Keras 3 reads the constructors'
        argspec (`inspect.getfullargspec`, which does not follow `__wrapped__`) to record their
        config, so each wrapper carries the original's `__signature__`."""
        classes = [keras.Model, getattr(keras, "Sequential", None)]
        try:
            if name == "keras":
                from keras.src.models.functional import Functional
            else:
                from tf_keras.src.engine.functional import Functional
            classes.append(Functional)
        except ImportError:  # pragma: no cover - moved
            pass
        for cls in classes:
            if cls is not None and "__init__" in vars(cls):
                self._patch(cls, "__init__", self._wrap_constructor)

    def _wrap_constructor(self, orig):
        return self._wrap_epochs_kwarg(orig, None)

    def _construction_site(self, model) -> Optional[dict]:
        """The line that constructs `model`: a subclass's `super().__init__(**kwargs)` passes the
        caller's `epochs=` on, so the `__init__` frames of the model itself are looked through."""
        frame = sys._getframe(2)  # noqa: SLF001 - the caller of the wrapper
        kind_of = self.sites.classifier.kind
        while frame is not None:
            if kind_of(frame.f_code.co_filename) == "user":
                if frame.f_code.co_name == "__init__" and frame.f_locals.get("self") is model:
                    frame = frame.f_back
                    continue
                return self.sites.user_site(frame=frame)
            frame = frame.f_back
        return None

    # -- EPL106 / EPL207 ---------------------------------------------------------------------
    def _install_removed(self, owner, names: frozenset, wrap_existing: bool = True) -> None:
        """Methods Keras 3 removed (fit_generator, Metric.reset_states): where they still exist
        (tf_keras) a wrapper records each call; where they do not, a class-level `__getattr__`
        (Python calls it only after normal lookup failed) records the attribute access from user
        code and raises the same AttributeError Python would."""
        missing = frozenset(n for n in names if not hasattr(owner, n))
        for n in sorted(names - missing):
            if wrap_existing and n in vars(owner):
                self._patch(owner, n, lambda orig, n=n: self._wrap_removed(orig, n))
        if not missing:
            return
        tracer = self
        previous = getattr(owner, "__getattr__", None)

        def __getattr__(obj, name):  # noqa: N807 - the protocol's name
            if name in missing:
                tracer._removed_accessed(obj, name, sys._getframe(1))  # noqa: SLF001
            if previous is not None:
                return previous(obj, name)
            raise AttributeError(f"'{type(obj).__name__}' object has no attribute '{name}'", name=name, obj=obj)

        if "__getattr__" in vars(owner):  # pragma: no cover - no Keras class defines one today
            self._patch(owner, "__getattr__", lambda orig: __getattr__)
        else:
            self._add(owner, "__getattr__", __getattr__)

    def _removed_accessed(self, obj, name: str, frame) -> None:
        try:
            if frame.f_code.co_code[frame.f_lasti] not in _ATTRIBUTE_LOADS:
                return  # hasattr()/getattr(): a question asked, not the method used
            site = self.sites.user_site(frame=frame, immediate=True)
            if site is not None:
                self.sink.emit("removed_method", name=name, exists=False, owner_class=type(obj).__name__, **site)
        except Exception:  # noqa: BLE001 - never change the AttributeError the script gets
            pass

    def _wrap_removed(self, orig, name: str):
        tracer = self

        @functools.wraps(orig)
        def wrapper(obj, *args, **kwargs):
            tracer._removed_called(obj, name)
            return orig(obj, *args, **kwargs)

        return wrapper

    def _removed_called(self, obj, name: str) -> None:
        site = self.site()
        if site is not None:
            self.sink.emit("removed_method", name=name, exists=True, owner_class=type(obj).__name__, **site)

    # -- EPL202 ------------------------------------------------------------------------------
    def _wrap_model_call(self, orig, framework: str):
        tracer = self

        @functools.wraps(orig)

        def wrapper(model, *args, **kwargs):
            if tracer.modules["record"].could_possibly_record():
                try:
                    tracer._model_under_tape(model, framework, kwargs)
                except Exception as exc:  # noqa: BLE001 - never break the user's call
                    tracer.sink.emit("internal_warning", where="model_call", message=repr(exc)[:300])
            return orig(model, *args, **kwargs)

        return wrapper

    def _model_under_tape(self, model, framework: str, kwargs: dict) -> None:
        site = self.sites.user_site(skip=0, immediate=True)
        if site is None:
            return
        outer = _outer_training(framework)
        if outer is not _MISSING and outer is not None:
            return  # nested in another model's call: that call decided
        explicit = kwargs.get("training", _MISSING)
        default = _MISSING
        try:
            param = inspect.signature(model.call).parameters.get("training")
            if param is not None and param.default is not inspect.Parameter.empty:
                default = param.default
        except (TypeError, ValueError):
            pass
        if explicit not in (_MISSING, None):
            effective = explicit
        elif default not in (_MISSING, None):
            effective = default
        else:
            effective = None
        model_id = self.ref(model)
        layers = self.training_layers.get(model_id)
        if layers is None:
            layers = self.training_layers[model_id] = _training_layers(model)
        regularized = self.regularized.get(model_id)
        if regularized is None:
            regularized = self.regularized[model_id] = _has_regularizers(model)
        if regularized:
            pending = getattr(self.local, "tape_models", None)
            if pending is None:
                pending = self.local.tape_models = {}
            pending[model_id] = model
        self.sink.emit("model_under_tape", model=model_id, model_class=type(model).__name__, layers=layers,
                       training=_jsonable_flag(explicit), default=_jsonable_flag(default),
                       effective=_jsonable_flag(effective), graph=not _executing_eagerly(self.modules["tf"]), **site)

    # -- EPL201 ------------------------------------------------------------------------------
    def _wrap_gradient(self, orig):
        tracer = self

        @functools.wraps(orig)

        def wrapper(tape, target, *args, **kwargs):
            try:
                tracer._gradient(target, args[0] if args else kwargs.get("sources"))
            except Exception as exc:  # noqa: BLE001
                tracer.sink.emit("internal_warning", where="gradient", message=repr(exc)[:300])
            return orig(tape, target, *args, **kwargs)

        return wrapper

    def _gradient(self, target, sources) -> None:
        site = self.sites.user_site(skip=0, immediate=True)
        if site is None:
            return
        tf = self.modules["tf"]
        shapes, per_sample, value = [], False, None
        flat = tf.nest.flatten(target)
        for t in flat:
            shape = getattr(t, "shape", None)
            dims = None if shape is None or shape.rank is None else [d for d in shape.as_list()]
            shapes.append(dims)
            if dims is None or (len(dims) >= 1 and not all(d == 1 for d in dims)):
                per_sample = True
        eager = _executing_eagerly(tf)
        if eager and len(flat) == 1 and hasattr(flat[0], "numpy"):
            try:
                value = _float(flat[0].numpy())
            except Exception:  # noqa: BLE001
                value = None
        self.sink.emit("gradient", shapes=shapes, per_sample=per_sample, graph=not eager, value=value, **site)
        pending, read = getattr(self.local, "tape_models", None), getattr(self.local, "losses_read", None) or set()
        self.local.tape_models, self.local.losses_read = {}, set()
        if pending:  # only models this gradient trains (a frozen teacher's penalties are not due)
            source_ids = {id(v) for v in tf.nest.flatten(sources)} if sources is not None else set()
            trained = {mid: m for mid, m in pending.items()
                       if any(id(v) in source_ids for v in getattr(m, "trainable_variables", ()))}
            if trained:
                self.sink.emit("regularization", graph=not eager, models=[
                    {"model": mid, "model_class": type(m).__name__, "losses_read": mid in read}
                    for mid, m in trained.items()], **site)

    def _wrap_losses(self, prop: property) -> property:
        """`model.losses` read by anyone (the user's loss, Keras's compute_loss): EPL209."""
        tracer = self
        fget = prop.fget

        @functools.wraps(fget)
        def getter(model):
            try:
                model_id = tracer.ids.get(id(model))
                if model_id is not None:
                    read = getattr(tracer.local, "losses_read", None)
                    if read is None:
                        read = tracer.local.losses_read = set()
                    read.add(model_id)
            except Exception:  # noqa: BLE001
                pass
            return fget(model)

        return property(getter, prop.fset, prop.fdel, prop.__doc__)

    # -- EPL203 / EPL206 ---------------------------------------------------------------------
    def _wrap_tf_function(self, orig):
        tracer = self

        @functools.wraps(orig)
        def function(func=None, *args, **kwargs):
            site = tracer.site()
            result = orig(func, *args, **kwargs)
            if site is None:
                return result
            if func is None:  # @tf.function(...) : a decorator comes back
                def decorator(f):
                    made = result(f)
                    tracer._function_created(made, f, site)
                    return made

                return decorator
            tracer._function_created(result, func, site)
            return result

        return function

    def _function_created(self, fn, python_function, site: dict) -> None:
        fn_id = self.ref(fn)
        context = _context_ids(self, python_function)
        self.user_functions[id(fn)] = {"id": fn_id, "seen": set(), "obj": fn, "calls": 0,
                                       "context": frozenset(context.values())}
        self.sink.emit("function_created", fn=fn_id, name=getattr(python_function, "__name__", "?"),
                       python_function=self.ref(python_function), context=context, **site)

    def _wrap_function_call(self, orig):
        tracer = self

        @functools.wraps(orig)

        def wrapper(fn, *args, **kwargs):
            entry = tracer.user_functions.get(id(fn))
            if entry is None:
                return orig(fn, *args, **kwargs)
            entry["calls"] += 1
            before = fn.experimental_get_tracing_count()
            watching = tracer._effects_begin(entry)
            try:
                result = orig(fn, *args, **kwargs)
            except BaseException as exc:
                if watching:
                    tracer._effects_end(fn, before, _error(exc))
                raise
            if watching:
                tracer._effects_end(fn, before, None)
            try:
                after = fn.experimental_get_tracing_count()
                scalars = [(i, a) for i, a in enumerate(args) if isinstance(a, (int, float)) and not isinstance(a, bool)]
                scalars += [(k, v) for k, v in kwargs.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
                if after > before:
                    site = tracer.sites.user_site(skip=0, immediate=True) or {}
                    tracer.sink.emit("function_traced", fn=entry["id"], traces=after,
                                     python_numbers=[[str(k), v] for k, v in scalars], **site)
                value = _float(result) if hasattr(result, "numpy") and _small(result) else None
                if value is not None:
                    tracer.sink.emit("function_value", fn=entry["id"], value=value)
            except Exception as exc:  # noqa: BLE001
                tracer.sink.emit("internal_warning", where="function_call", message=repr(exc)[:300])
            return result

        return wrapper

    # -- EPL205 ------------------------------------------------------------------------------
    def _effects_begin(self, entry: dict) -> bool:
        """Watch the Python side effects of one call of a user tf.function: a profile hook
        (`sys.setprofile`, this thread only, on while the call builds a graph: see
        _wrap_graph_building) counts `print`,
        appends to a list the function reads from outside (its globals and closure), and
        `.numpy()`/`.item()` looked up on a symbolic tensor (TensorFlow's `Tensor.__getattr__`
        runs). They run while the function traces, and on every call only when it runs eagerly.
        Nested user tf.functions share the hook; a profiler of someone else's is left alone."""
        stack = getattr(self.local, "effects", None)
        if stack is None:
            if self.modules.get("tensor_getattr") is None:
                return False
            # watch the whole call when tf.functions run eagerly (every call runs the Python), or
            # when the graph-building hook could not be installed
            whole = not self.modules.get("trace_hook") or _functions_run_eagerly(self.modules["tf"])
            if whole:
                if sys.getprofile() is not None:
                    return False
                sys.setprofile(self._profile)
            self.local.effects_whole = whole
            stack = self.local.effects = []
        stack.append((entry, {}))
        return True

    def _effects_end(self, fn, before: int, error: Optional[dict]) -> None:
        stack = self.local.effects
        entry, seen = stack.pop()
        if not stack:
            if self.local.effects_whole:
                sys.setprofile(None)
            self.local.effects = None
        if not seen:
            return
        try:
            traced = fn.experimental_get_tracing_count() > before
        except Exception:  # noqa: BLE001
            traced = None
        self.sink.emit("side_effects", fn=entry["id"], traced=traced, error=error, effects=[
            {"effect": effect, "file": file, "line": line, "function": function, "count": count}
            for (effect, file, line, function), count in seen.items()])

    def _wrap_graph_building(self, orig):
        """TensorFlow's `func_graph_from_py_func` runs a function's Python to build its graph: the
        profile hook is on only while it does so inside a call of a user tf.function (a call that
        does not trace runs no Python of the user's: watching it would cost ~0.6 ms a call)."""
        tracer = self

        @functools.wraps(orig)
        def wrapper(*args, **kwargs):
            if not getattr(tracer.local, "effects", None) or sys.getprofile() is not None:
                return orig(*args, **kwargs)  # not in a user call, or already watched (nested), or not ours
            sys.setprofile(tracer._profile)
            try:
                return orig(*args, **kwargs)
            finally:
                sys.setprofile(None)

        return wrapper

    def _profile(self, frame, event, arg) -> None:
        if event == "c_call":
            if arg is _PRINT:
                effect = "print"
            elif getattr(arg, "__name__", None) in _LIST_METHODS and type(getattr(arg, "__self__", None)) is list:
                stack = self.local.effects
                if not stack or self.ids.get(id(arg.__self__)) not in stack[-1][0]["context"]:
                    return  # a list the function made itself (or one it does not name)
                effect = "append"
            else:
                return
        elif event == "call" and frame.f_code is self.modules["tensor_getattr"]:
            name = frame.f_locals.get("name")
            if name not in ("numpy", "item"):
                return
            frame = frame.f_back
            try:
                if frame is None or frame.f_code.co_code[frame.f_lasti] not in _ATTRIBUTE_LOADS:
                    return  # hasattr(t, "numpy"): asked, not used
            except IndexError:  # pragma: no cover
                return
            effect = f".{name}()"
        else:
            return
        try:
            site = self.sites.user_site(frame=frame, immediate=True)
            stack = self.local.effects
            if site is None or not stack:
                return
            key = (effect, site["file"], site["line"], site["function"])
            seen = stack[-1][1]
            seen[key] = seen.get(key, 0) + 1
        except Exception:  # noqa: BLE001 - a profile hook must never raise
            pass

    # -- EPL204 ------------------------------------------------------------------------------
    def _wrap_optimizer_init(self, orig):
        tracer = self

        @functools.wraps(orig)

        def wrapper(opt, *args, **kwargs):
            result = orig(opt, *args, **kwargs)
            if id(opt) not in tracer.ids:
                site = tracer.site(immediate=False)
                if site is not None:
                    opt_id = tracer.ref(opt)
                    tracer.optimizers.append((opt_id, opt))
                    tracer.sink.emit("optimizer_created", optimizer=opt_id, optimizer_class=type(opt).__name__,
                                     graph=not _executing_eagerly(tracer.modules["tf"]), **site)
            return result

        return wrapper

    # -- EPL208 ------------------------------------------------------------------------------
    def _install_metrics(self, base) -> None:
        """update_state/result/reset_state of every metric class Keras defines (subclasses override
        them), and Metric.__call__ (an update from user code)."""
        classes, todo = [], [base]
        while todo:
            cls = todo.pop()
            if cls not in classes:
                classes.append(cls)
                todo.extend(cls.__subclasses__())
        for cls in classes:
            for attr, kind in (("update_state", "update"), ("result", "result"), ("reset_state", "reset"),
                               ("reset_states", "reset")):
                if attr in vars(cls):
                    self._patch(cls, attr, lambda orig, kind=kind, attr=attr: self._wrap_metric(orig, kind, attr))
        self._patch(base, "__call__", lambda orig: self._wrap_metric(orig, "update"))

    def _wrap_metric(self, orig, kind: str, attr: str = ""):
        tracer = self

        @functools.wraps(orig)
        def wrapper(metric, *args, **kwargs):
            try:
                if attr in REMOVED_METRIC_METHODS:
                    tracer._removed_called(metric, attr)
                if kind == "reset":
                    if id(metric) in tracer.user_metrics:
                        tracer.sink.emit("metric_reset", metric=tracer.ids.get(id(metric)))
                else:
                    site = tracer.sites.user_site(skip=0, immediate=True)
                    if site is not None:
                        tracer.user_metrics.add(id(metric))
                        tracer.sink.emit(f"metric_{kind}", metric=tracer.ref(metric), metric_class=type(metric).__name__,
                                         graph=not _executing_eagerly(tracer.modules["tf"]), **site)
            except Exception as exc:  # noqa: BLE001
                tracer.sink.emit("internal_warning", where="metric", message=repr(exc)[:300])
            return orig(metric, *args, **kwargs)

        return wrapper

    # -- end of run --------------------------------------------------------------------------
    def finalize(self) -> None:
        """Trace counts and optimizer states, read once the script stopped (or was stopped)."""
        for entry in list(self.user_functions.values()):
            try:
                self.sink.emit("function_final", fn=entry["id"], traces=entry["obj"].experimental_get_tracing_count(),
                               calls=entry["calls"])
            except Exception:  # noqa: BLE001
                pass
        for opt_id, opt in list(self.optimizers):
            try:
                iterations = int(opt.iterations.numpy())
            except Exception:  # noqa: BLE001
                iterations = None
            variables = getattr(opt, "_trainable_variables", None) or []
            keys = sorted({self.ref(v) for v in variables})
            if not keys:  # tf_keras: variables are known by their key in _index_dict
                keys = sorted(str(k) for k in (getattr(opt, "_index_dict", None) or {}))
            self.sink.emit("optimizer_final", optimizer=opt_id, iterations=iterations, variables=keys[:1000])


def _probe_class(base):
    class EpochlintProbe(base):
        """Counts batches per epoch, records epoch logs, and applies --max-steps."""

        def __init__(self, tracer: Tracer, call_id: int, method: str):
            super().__init__()
            self._tracer, self._call, self._method = tracer, call_id, method
            self._cap = tracer.max_steps
            self.epochs_run = 0
            self.batches_total = 0
            self._steps = self._val_steps = 0
            self._capped = self._we_stopped = self._val_capped = False

        def on_epoch_begin(self, epoch, logs=None):
            self._steps = self._val_steps = 0
            self._capped = self._val_capped = False

        def on_train_batch_end(self, batch, logs=None):
            self._steps += 1
            self.batches_total += 1
            if self._cap and self._steps >= self._cap and not self.model.stop_training:
                expected = (self.params or {}).get("steps")
                if expected is None or expected > self._steps:
                    self.model.stop_training = True
                    self._we_stopped = self._capped = True

        def on_test_batch_end(self, batch, logs=None):
            if self._method == "evaluate":
                self.batches_total += 1
            self._val_steps += 1
            if self._cap and self._val_steps >= self._cap and hasattr(self.model, "stop_evaluating"):
                if not self.model.stop_evaluating:
                    self.model.stop_evaluating = True
                    self._val_capped = True

        def on_predict_batch_end(self, batch, logs=None):
            self.batches_total += 1

        def on_test_end(self, logs=None):
            if self._method == "evaluate":
                self._tracer.sink.emit("evaluate_end", call=self._call, batches=self._val_steps,
                                       capped=self._val_capped, logs=_logs(logs))

        def on_epoch_end(self, epoch, logs=None):
            if self._we_stopped:
                self.model.stop_training = False
                self._we_stopped = False
            self.epochs_run += 1
            expected = (self.params or {}).get("steps")
            self._tracer.sink.emit("epoch_end", call=self._call, epoch=epoch, batches=self._steps,
                                   expected=expected, capped=self._capped, val_batches=self._val_steps,
                                   val_capped=self._val_capped, logs=_logs(logs))

    return EpochlintProbe


def _jsonable_int(value) -> Optional[int]:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _data_kind(tf, x) -> str:
    """"dataset" (tf.data), "generator" (an iterator: no length), "sequence" (PyDataset, Keras 2
    Sequence/DirectoryIterator: indexed batches with a length), "array" (NumPy, tensors, lists
    and dicts of them), "none"."""
    if x is None:
        return "none"
    if isinstance(x, tf.data.Dataset):
        return "dataset"
    if hasattr(x, "shape") or isinstance(x, (list, tuple, dict)):
        return "array"
    if hasattr(x, "__getitem__") and hasattr(x, "__len__"):
        return "sequence"
    if hasattr(x, "__next__") or inspect.isgenerator(x):
        return "generator"
    return type(x).__name__


def _first_dim(x) -> Optional[int]:
    while isinstance(x, (list, tuple, dict)) and x:
        x = next(iter(x.values())) if isinstance(x, dict) else x[0]
    shape = getattr(x, "shape", None)
    try:
        return int(shape[0]) if shape is not None and len(shape) and shape[0] is not None else None
    except (TypeError, ValueError, IndexError):
        return None


def _find_repeat(ds, limit: int = 64):
    """(count, cardinality of the repeated input) of the outermost `.repeat()` in a dataset's
    chain of unary transformations (tf.data's private `_input_dataset` links), else None."""
    for _ in range(limit):
        if ds is None:
            return None
        if type(ds).__name__ == "_RepeatDataset":
            count = getattr(ds, "_count", None)
            inner = getattr(ds, "_input_dataset", None)
            return (int(count.numpy()) if hasattr(count, "numpy") else int(count),
                    int(inner.cardinality()) if inner is not None else None)
        ds = getattr(ds, "_input_dataset", None)
    return None


def _data_info(tf, x, batch_size, validation_split=None) -> dict:
    """What fit/evaluate/predict was given: its kind, and for the EPL3xx rules the batches one pass
    over it holds (`batches`), its samples, a tf.data dataset's cardinality (-1 infinite, -2
    unknown), its batch dimension and its `.repeat(count)`. Never raises."""
    info: dict = {"kind": "?"}
    try:
        kind = info["kind"] = _data_kind(tf, x)
        if kind == "dataset":
            info["cardinality"] = int(x.cardinality())
            if info["cardinality"] >= 0:
                info["batches"] = info["cardinality"]
            spec = tf.nest.flatten(x.element_spec)
            if spec and getattr(spec[0], "shape", None) is not None and spec[0].shape.rank:
                info["batch_dim"] = spec[0].shape[0]
            repeat = _find_repeat(x)
            if repeat is not None:
                info["repeat_count"], info["repeat_input_cardinality"] = repeat
        elif kind == "array":
            samples = _first_dim(x)
            if samples is not None:
                info["samples"] = samples
                if validation_split:
                    samples = int(math.ceil(samples * (1.0 - float(validation_split))))
                size = int(batch_size) if batch_size else 32
                info["batches"] = int(math.ceil(samples / size)) if size > 0 else None
        elif kind == "sequence":
            info["batches"] = int(len(x))
            for attr in ("samples", "n"):
                value = getattr(x, attr, None)
                if isinstance(value, int) and not isinstance(value, bool):
                    info["samples"] = value
                    break
    except Exception:  # noqa: BLE001 - a fact less, never the user's error
        pass
    return info


def _error(exc: BaseException) -> dict:
    return {"type": type(exc).__name__, "message": str(exc)[:500]}


def _logs(logs) -> dict:
    out = {}
    for key, value in (logs or {}).items():
        number = _float(value)
        if number is not None:
            out[str(key)] = number
    return out


def _small(value) -> bool:
    try:
        return int(value.shape.num_elements() or 0) <= 100_000
    except Exception:  # noqa: BLE001
        return False


def _functions_run_eagerly(tf) -> bool:
    try:
        return bool(tf.config.functions_run_eagerly())
    except Exception:  # noqa: BLE001
        return False


def _executing_eagerly(tf) -> bool:
    try:
        return bool(tf.executing_eagerly())
    except Exception:  # noqa: BLE001
        return True


def _jsonable_flag(value):
    if value is _MISSING or value is None or isinstance(value, bool):
        return value
    try:
        return bool(value)
    except Exception:  # noqa: BLE001 - a symbolic tensor
        return "tensor"


def _outer_training(framework: str):
    """The `training` value of the layer call we are nested in; _MISSING at the top level."""
    try:
        if framework == "keras":
            from keras.src.backend.common import global_state

            ctx = global_state.get_global_attribute("current_call_ctx")
            return _MISSING if ctx is None else ctx.training
        from tf_keras.src.engine import base_layer_utils

        ctx = base_layer_utils.call_context()
        return ctx.training if ctx.in_call else _MISSING
    except Exception:  # noqa: BLE001
        return _MISSING


def _training_layers(model) -> list[str]:
    found = []
    try:
        layers = list(model._flatten_layers(include_self=False, recursive=True))  # noqa: SLF001
    except Exception:  # noqa: BLE001
        layers = list(getattr(model, "layers", []))
    for layer in layers:
        names = {c.__name__ for c in type(layer).__mro__}
        cls = type(layer).__name__
        if names & TRAINING_LAYER_CLASSES or cls.startswith("Random"):
            found.append(cls)
    return found


REGULARIZER_ATTRS = ("kernel_regularizer", "bias_regularizer", "activity_regularizer", "depthwise_regularizer",
                     "pointwise_regularizer", "recurrent_regularizer", "gamma_regularizer", "beta_regularizer",
                     "embeddings_regularizer")


def _has_regularizers(model) -> bool:
    """A layer of the model has a weight or activity regularizer (add_loss is not looked at)."""
    try:
        layers = list(model._flatten_layers(include_self=True, recursive=True))  # noqa: SLF001
    except Exception:  # noqa: BLE001
        layers = list(getattr(model, "layers", []))
    return any(getattr(layer, attr, None) is not None for layer in layers for attr in REGULARIZER_ATTRS)


def _fingerprint(model) -> Optional[str]:
    """A hash of (at most 8 of) the model's weights: equal before and after means untouched."""
    try:
        weights = list(model.weights)
        if not weights:
            return None
        picked = weights[:4] + weights[-4:] if len(weights) > 8 else weights
        digest = hashlib.blake2b(digest_size=8)
        for w in picked:
            digest.update(memoryview(w.numpy()).tobytes())
        return digest.hexdigest()
    except Exception:  # noqa: BLE001
        return None


def _trainable_count(model) -> Optional[int]:
    try:
        return len(model.trainable_weights)
    except Exception:  # noqa: BLE001
        return None


def _epochs_attr(model):
    value = vars(model).get("epochs") if hasattr(model, "__dict__") else None
    return _float(value) if value is not None else None


def _context_ids(tracer: Tracer, func) -> dict:
    """Identity of the objects a function reads (globals it names, closure cells): a function
    re-created with the same context is the same graph traced again (EPL203)."""
    out = {}
    code = getattr(func, "__code__", None)
    if code is None:
        return out
    names, stack = set(), [code]
    while stack:
        c = stack.pop()
        names.update(c.co_names)
        stack.extend(k for k in c.co_consts if hasattr(k, "co_names"))
    glb = getattr(func, "__globals__", {})
    for name in sorted(names):
        if name in glb:
            value = glb[name]
            if inspect.ismodule(value):
                continue
            out[name] = tracer.ref(value)
    for name, cell in zip(code.co_freevars, getattr(func, "__closure__", None) or ()):
        try:
            out[name] = tracer.ref(cell.cell_contents)
        except ValueError:  # empty cell
            continue
    return out
