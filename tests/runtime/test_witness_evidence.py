"""Per-code evidence from the session's verify run, asserted directly (independent of each
witness's own `checks`), with the version-appropriate expectation."""
from __future__ import annotations

import pytest


def test_epl101(witnesses):
    ev = witnesses["EPL101"]["evidence"]
    assert ev["attribute_value"] == 10 and ev["epochs_run"] == 1 and ev["epochs_run_after_setattr"] == 1


def test_epl102(witnesses, env):
    ev = witnesses["EPL102"]["evidence"]
    if env.keras_major >= 3:
        assert ev["Model"] == {"raised": False, "warnings": [], "fit_epochs_run": 1}
        assert ev["evaluate"]["type"] == "ValueError" and "Arguments not recognized" in ev["evaluate"]["message"]
    else:
        assert ev["Model"]["type"] == "TypeError"
    for call in ("Sequential", "compile", "predict"):
        assert ev[call]["type"] == "TypeError", call
        assert "epochs" in ev[call]["message"]


def test_epl103(witnesses, env):
    ev = witnesses["EPL103"]["evidence"]
    for call in ("fit", "evaluate", "predict"):
        for kw in ("nb_epoch", "samples_per_epoch", "nb_val_samples", "val_samples"):
            expected = "ValueError" if call == "evaluate" and env.keras_major >= 3 else "TypeError"
            assert ev[call][kw]["type"] == expected and kw in ev[call][kw]["message"]


def test_epl104(witnesses):
    ev = witnesses["EPL104"]["evidence"]
    assert ev["total_epochs"] == 9 and ev["epochs_per_call_run"] == [3, 3, 3]
    first = ev["first_epoch_loss_per_call"]
    assert first[0] > first[1] > first[2]


def test_epl105(witnesses):
    ev = witnesses["EPL105"]["evidence"]
    assert ev["epochs_5_initial_5_epochs_run"] == 0 and ev["weights_unchanged"] is True
    assert ev["epochs_5_initial_3_epoch_indices"] == [3, 4]


def test_epl106(witnesses, env):
    ev = witnesses["EPL106"]["evidence"]
    expected = env.keras_major == 2
    assert (ev["has_fit_generator"], ev["has_evaluate_generator"], ev["has_predict_generator"]) == (expected,) * 3
    assert ev["fit_with_generator_epochs"] == 2


def test_epl201(witnesses):
    ev = witnesses["EPL201"]["evidence"]
    assert ev["loss_shape"] == [32]
    assert ev["grad_norm_ratio_unreduced_over_reduced"] == pytest.approx(32, rel=1e-3)
    assert ev["duplicated_batch_sum_ratio"] == pytest.approx(2, rel=1e-4)
    assert ev["duplicated_batch_mean_ratio"] == pytest.approx(1, rel=1e-4)
    sgd = ev["sgd_0.01_eval_mse_after_10_epochs"]
    assert sgd["unreduced"] != pytest.approx(sgd["reduced"], rel=0.05)  # the step size really differs
    accepted = [o for o in ev["loss_object"].values() if o["accepted"]]
    assert accepted and all(o["grad_norm_ratio_over_reduced"] == pytest.approx(32, rel=1e-3) for o in accepted)


def test_epl202(witnesses):
    ev = witnesses["EPL202"]["evidence"]
    assert ev["no_flag_moving_mean_max_abs"] == 0.0 and ev["no_flag_moving_variance_max_abs_change"] == 0.0
    assert ev["training_true_moving_mean_max_abs"] > 0.01
    assert ev["default_call_equals_inference"] and not ev["default_call_equals_training"]
    assert ev["dropout_default_output_equals_input"]
    families = ev["without_training_flag"]
    assert all(m["default_is_identity"] and m["training_changes_it"] for m in families["dropout and noise layers"].values())
    assert families["BatchNormalization"]["moving_mean_unchanged_without_flag"]
    assert all(m["default_equals_inference"] and m["training_differs"] for m in families["dropout= arguments"].values())
    # not claimed: augmentation layers augment without training=True (EPL202's known false positive)
    assert ev["augmentation_layers_augment_without_training_flag"] == sorted(families["augmentation layers"])


def test_epl203_epl205_epl206_trace_counts(witnesses):
    assert witnesses["EPL203"]["evidence"]["traces_in_loop"] == witnesses["EPL203"]["evidence"]["turns"] == 4
    assert witnesses["EPL203"]["evidence"]["traces_hoisted"] == 1
    assert witnesses["EPL203"]["evidence"]["traces_decorator_in_loop"] == 4
    e205 = witnesses["EPL205"]["evidence"]
    assert (e205["calls"], e205["traces"], e205["prints"], e205["appends"], e205["extends"], e205["inserts"]) == (4, 1, 1, 1, 1, 1)
    assert e205["numpy_in_tf_function"]["type"] == e205["item_in_tf_function"]["type"] == "AttributeError"
    e206 = witnesses["EPL206"]["evidence"]
    assert (e206["traces_python_int"], e206["traces_python_float"], e206["traces_tensor"]) == (5, 5, 1)


def test_epl204(witnesses):
    ev = witnesses["EPL204"]["evidence"]
    assert ev["iterations_optimizer_in_loop"] == ev["steps_per_epoch"] == 4
    assert ev["iterations_optimizer_outside"] == 3 * ev["steps_per_epoch"]
    assert ev["in_tf_function"]["type"] == "ValueError"
    assert "tf.Variable" in ev["in_tf_function"]["message"] or "first call" in ev["in_tf_function"]["message"]


def test_epl207(witnesses, env):
    ev = witnesses["EPL207"]["evidence"]
    if env.keras_major >= 3:
        assert ev["reset_states"]["type"] == "AttributeError"
    else:
        assert ev["reset_states"] == {"raised": False}
    assert ev["reset_state_result"] == 0.0


def test_epl208(witnesses):
    ev = witnesses["EPL208"]["evidence"]
    assert ev["never_reset_result_after_epoch_2"] == pytest.approx(1.5)
    assert ev["reset_each_epoch_result_after_epoch_2"] == pytest.approx(1.0)


def test_epl209(witnesses):
    ev = witnesses["EPL209"]["evidence"]
    assert ev["model_losses"] == 2
    assert ev["kernel_norm_loop_with_losses"] == pytest.approx(ev["kernel_norm_fit"], rel=1e-3)
    assert ev["kernel_norm_loop_without_losses"] > 1.02 * ev["kernel_norm_fit"]
    for kind, m in ev["keras_loss_includes_penalty"].items():
        assert m["sum_model_losses"] > 0 and m["keras_loss"] == pytest.approx(m["mse"] + m["sum_model_losses"], rel=1e-4), kind


def test_epl301(witnesses, env):
    ev = witnesses["EPL301"]["evidence"]
    if env.keras_major >= 3:
        assert ev["fit"] == {"raised": False}
        assert ev["epochs_begun"] == [0]
        assert ev["epoch_ends_at_batch"] in ([], [ev["stopped_after_batches"]])  # only when the callback stopped it
        assert ev["batches_in_epoch_1"] == ev["stopped_after_batches"] == 5 * ev["batches_per_pass"]
    else:
        assert ev["fit"]["type"] == "ValueError"


def test_epl302(witnesses):
    ev = witnesses["EPL302"]["evidence"]
    assert ev["passes"] == 9 and ev["batches_per_epoch"] == [3 * ev["batches_per_pass"]] * 3


def test_epl303(witnesses, env):
    ev = witnesses["EPL303"]["evidence"]
    n, per_pass = ev["samples"], ev["batches_per_pass"]
    assert ev["repeated_dataset"]["batches_per_epoch"] == [n]
    assert ev["finite_dataset"]["ran_out_warning"] and ev["arrays_batch_size_32"]["ran_out_warning"]
    assert ev["arrays_no_batch_size"]["batches_per_epoch"] == [n]
    assert ev["arrays_no_batch_size"]["samples_in_epoch"] == n  # batches of one sample
    if env.keras_major >= 3:
        assert ev["finite_dataset"]["batches_per_epoch"] == [per_pass, per_pass]


def test_epl304(witnesses):
    ev = witnesses["EPL304"]["evidence"]
    for kind in ("dataset", "generator", "iterator", "PyDataset"):
        for call in ("fit", "evaluate", "predict"):
            runs = ev[kind][call]
            assert runs["4"]["batches"] == runs["None"]["batches"] == 4, (kind, call)
            assert not runs["4"]["call"]["raised"] and not runs["4"]["batch_size_warned"], (kind, call)


def test_epl305(witnesses):
    ev = witnesses["EPL305"]["evidence"]
    for kind in ("dataset", "generator", "iterator", "PyDataset"):
        assert ev[kind]["type"] == "ValueError" and "validation_split" in ev[kind]["message"], kind


def test_epl306_finite_generator(witnesses, env):
    for kind in ("generator function", "generator expression"):
        ev = witnesses["EPL306"]["evidence"][kind]
        expected = [4, 2, 2] if env.keras_major >= 3 else [4, 0]
        assert ev["batches_per_epoch"] == expected and ev["ran_out_warning"]


def test_epl307_endless_validation_evaluate_predict(witnesses, env):
    ev = witnesses["EPL307"]["evidence"]
    for kind in ("dataset", "generator"):
        for call in ("fit", "evaluate", "predict"):
            got = ev[kind][call]
            if env.keras_major < 3 and kind == "dataset":
                assert got["result"]["type"] == "ValueError"
            else:
                assert got["result"]["type"] == "_Runaway" and got["batches"] == ev["stopped_at_batches"]


def test_epl308_split_overlap(witnesses):
    ev = witnesses["EPL308"]["evidence"]
    assert ev["shuffle"]["in_both_parts"] > 0 and ev["shuffle_seed_1"]["in_both_parts"] > 0
    assert ev["reshuffle_each_iteration_false"]["in_both_parts"] == 0
    for helper in ("image_dataset_from_directory", "text_dataset_from_directory"):
        assert ev[f"{helper}_shuffle_True"]["in_both_parts"] > 0 and ev[f"{helper}_shuffle_False"]["in_both_parts"] == 0


def test_epl309_orders(witnesses):
    ev = witnesses["EPL309"]["evidence"]
    assert ev["batch_then_shuffle"]["same_batch_contents"] and not ev["shuffle_then_batch_same_batch_contents"]
    assert ev["shuffle_then_cache_same_order"] and not ev["cache_then_shuffle_same_order"]
    for got in ev["random_map_then_cache"].values():
        assert got["uncached_values_differ_between_passes"] and got["cached_values_same_on_two_passes"]
    assert ev["repeat_then_shuffle_distinct_in_first_pass"] < ev["elements"]


def test_epl310_oracle_against_separate_labels(witnesses):
    ev = witnesses["EPL310"]["evidence"]
    assert ev["flow_from_directory_shuffle_None"]["accuracy_vs_classes"] < 0.8
    assert ev["flow_from_directory_shuffle_False"]["accuracy_vs_classes"] == 1.0
    assert ev["image_dataset_from_directory_shuffle_None"]["accuracy_vs_second_pass"] < 0.8
    assert ev["image_dataset_from_directory_shuffle_False"]["accuracy_vs_second_pass"] == 1.0
    assert not ev["text_dataset_from_directory_shuffle_None"]["two_passes_same_order"]


def test_epl311_float_arguments(witnesses, env):
    ev = witnesses["EPL311"]["evidence"]
    for name, got in ev.items():
        keras2_accepts = env.keras_major < 3 and not name.startswith(("epochs", "initial_epoch"))
        assert got == {"raised": False} if keras2_accepts else got["type"] == "TypeError", name


def test_epl107(witnesses, env):
    ev = witnesses["EPL107"]["evidence"]
    for cls, lr in ev["lr"].items():
        if env.keras_major >= 3:
            assert lr["type"] == "ValueError" and "lr" in lr["message"], cls
        else:  # tf_keras drops lr= with a log warning: the default rate trains
            assert not lr["raised"] and lr["learning_rate"] == lr["default"] != 0.5 and lr["log_warning"], cls
    assert all(a == pytest.approx(b, rel=1e-5) for a, b in ev["decay"]["schedule_vs_formula"])
    if env.keras_major >= 3:
        assert ev["decay"]["weights_equal_plain_sgd"] is True and ev["decay"]["warning"]
    else:
        assert ev["decay"]["new_optimizer"]["type"] == "ValueError"
        assert ev["decay"]["legacy_equals_inverse_time_decay"] is True and ev["decay"]["legacy_differs_from_no_decay"] is True


def test_epl108(witnesses, env):
    ev = witnesses["EPL108"]["evidence"]
    for call in ("fit", "evaluate", "predict"):
        for kw in ("workers", "use_multiprocessing", "max_queue_size"):
            if env.keras_major < 3:
                assert ev[call][kw] == {"raised": False}
            else:
                assert ev[call][kw]["type"] == ("ValueError" if call == "evaluate" else "TypeError") and kw in ev[call][kw]["message"]


def test_epl109(witnesses):
    ev = witnesses["EPL109"]["evidence"]
    assert {"accuracy", "val_accuracy"} <= set(ev["accuracy"]["keys"]) and "acc" not in ev["accuracy"]["keys"]
    assert {"acc", "val_acc"} <= set(ev["acc"]["keys"]) and "accuracy" not in ev["acc"]["keys"]
    assert ev["accuracy"]["history['acc']"]["type"] == ev["acc"]["history['accuracy']"]["type"] == "KeyError"


def test_epl110(witnesses, env):
    ev = witnesses["EPL110"]["evidence"]
    for name, e in ev.items():
        lag = 0 if env.keras_major >= 3 else 1
        assert e["rate_after_each_epoch"] == [e["rate_at_steps"][3 * (i + 1) - lag] for i in range(2)], name
    assert ev["ExponentialDecay"]["rate_after_each_epoch"][-1] == pytest.approx(0.0125 if env.keras_major >= 3 else 0.1 * 0.5 ** 2.5, rel=1e-4)


def test_epl401(witnesses):
    ev = witnesses["EPL401"]["evidence"]
    plateau, scheduler = ev["EarlyStopping+ReduceLROnPlateau"], ev["LearningRateScheduler"]
    assert plateau["single"]["epochs_run"] == 2 and plateau["single"]["learning_rate"] < 0.1
    for style in ("loop", "initial_epoch"):
        assert plateau[style]["epochs_run"] == 3 and plateau[style]["learning_rate"] == pytest.approx(0.1)
    assert scheduler["loop"]["epochs_seen"] == [0, 0, 0] and scheduler["loop"]["learning_rate"] == pytest.approx(0.1)
    assert scheduler["initial_epoch"]["epochs_seen"] == [0, 1, 2] and scheduler["initial_epoch"]["learning_rate"] == pytest.approx(0.025)


def test_epl402(witnesses, env):
    ev = witnesses["EPL402"]["evidence"]
    if env.keras_major >= 3:
        assert ev["epsilon"] == {"min_delta": 0.0001, "warnings": []}
        assert ev["period"]["type"] == "TypeError" and "period" in ev["period"]["message"]
    else:
        assert ev["epsilon"]["min_delta"] == 0.5
        assert ev["period"]["files"] == ["w-2.h5"]
    assert len(ev["save_freq"]["files"]) == 2


def test_epl403(witnesses):
    ev = witnesses["EPL403"]["evidence"]
    assert ev["string"]["iterations_per_turn"] == [2, 2, 2] and ev["string"]["optimizer_objects"] == 3
    assert ev["default"]["iterations_per_turn"] == [2, 2, 2] and ev["default"]["optimizer"] == "RMSprop"
    assert ev["same object"]["iterations_per_turn"] == [2, 4, 6] and ev["same object"]["optimizer_objects"] == 1
