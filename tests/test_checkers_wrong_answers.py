"""Checkers test behaviour, not shape (issue 18, part 2).

* a table of typical wrong answers per checker, each of which must be rejected with its hint,
  including every wrong answer the issue lists and every forbidden-library answer;
* the reference solutions pass and agree with the library implementations they replace;
* no checker raises, whatever it is given;
* forbidden library functions are switched off during a check and restored afterwards;
* unknown exercise names raise :class:`UnknownExercise`, listing the valid names.
"""

import math
import sys
import types

import numpy as np
import pytest
import torch

from godeep import exercises
from godeep.exercises import (
    REGISTRY,
    Feedback,
    ForbiddenCall,
    UnknownExercise,
    all_exercises,
    ch2,
    ch3,
    ch4,
    framework_of,
    get,
)
from godeep.exercises.ch3 import (
    _autograd_bn_backward,  # the checker's own forbidden-autograd answer
)

EXERCISES = all_exercises()


# ------------------------------------------------------------------ answers the issue lists


def _bottleneck(kind):
    return ch4._wrong_bottleneck(kind)


def _constant_accuracy(model, x, y):
    return 1.0


def _fills_but_returns_nothing(tensor):
    bound = math.sqrt(6.0 / (tensor.shape[1] * math.prod(tensor.shape[2:])))
    with torch.no_grad():
        tensor.uniform_(-bound, bound)


def _torch_kaiming(tensor):
    return torch.nn.init.kaiming_uniform_(tensor, nonlinearity="relu")


def _f_group_norm(x, num_groups, eps=1e-5):
    return torch.nn.functional.group_norm(torch.as_tensor(x), num_groups, eps=eps).numpy()


def _library_bottleneck(inplanes, planes):
    from godeep.residual import Bottleneck

    return Bottleneck(inplanes, planes)


# key -> [(answer, a fragment the message must contain)]; each must be rejected (✗, answered)
ISSUE_TABLE = {
    "ch4.bottleneck-block": [
        (_bottleneck("no-final-relu"), "without the final ReLU"),
        (_bottleneck("no-inner-relus"), "ReLUs inside the branch are missing"),
        (_bottleneck("relu-before-add"), "before adding the shortcut"),
        (_bottleneck("skip-bn1"), "bn1 is created but not used"),
        (_bottleneck("skip-bn2"), "bn2 is created but not used"),
        (_library_bottleneck, "godeep.residual.Bottleneck"),
    ],
    "ch3.find-the-bug": [(_constant_accuracy, "of these labels right")],
    "ch2.conv-fans": [
        ((576.9, 1152.9), "whole number"),
        (("576", "1152"), "not strings"),
        ({"fan_in": 576, "fan_out": 1152}, "not a dict"),
    ],
    "ch4.resnet20-params": [("269722", "not the string")],
    "ch2.kaiming-uniform": [
        (_fills_but_returns_nothing, "returns None"),
        (_torch_kaiming, "calls torch.nn.init.kaiming_uniform_"),
    ],
    "ch3.group-norm-einsum": [(_f_group_norm, "calls torch.nn.functional.group_norm")],
    "ch3.bn-backward": [(_autograd_bn_backward, "calls Tensor.backward")],
}
ISSUE_CASES = [(key, i) for key, answers in ISSUE_TABLE.items() for i in range(len(answers))]


@pytest.mark.parametrize("key, index", ISSUE_CASES)
def test_wrong_answers_listed_in_the_issue_are_rejected(key, index):
    answer, says = ISSUE_TABLE[key][index]
    feedback = EXERCISES[key].check(answer)
    assert feedback.answered and not feedback.correct, feedback
    assert says in feedback.message, feedback.message


@pytest.mark.parametrize("key", sorted(k for k, ex in EXERCISES.items() if ex.forbidden))
def test_every_forbidding_exercise_has_a_forbidden_library_answer_in_its_table(key):
    ex = EXERCISES[key]
    called = [w for w in ex.wrong_answers if w.says.startswith("calls ") or "Bottleneck" in w.says]
    assert called, f"{key} forbids library functions but none of its wrong answers calls one"
    for w in called:
        feedback = ex.check(w.answer)
        assert not feedback.correct and "your answer calls" in feedback.message, feedback.message


def test_a_library_function_imported_under_another_name_is_caught():
    from torch.nn.init import kaiming_uniform_ as fill

    def kaiming_uniform_(tensor):
        return fill(tensor, nonlinearity="relu")

    feedback = EXERCISES["ch2.kaiming-uniform"].check(kaiming_uniform_)
    assert not feedback.correct and "calls torch.nn.init.kaiming_uniform_" in feedback.message


def test_the_library_function_itself_is_rejected():
    feedback = EXERCISES["ch2.kaiming-uniform"].check(torch.nn.init.kaiming_uniform_)
    assert not feedback.correct and "calls torch.nn.init.kaiming_uniform_" in feedback.message


def test_a_swallowed_forbidden_call_is_still_rejected():
    def group_norm(x, num_groups, eps=1e-5):
        try:
            return _f_group_norm(x, num_groups, eps)
        except BaseException:  # noqa: B036 - the point of the test
            return ch3._reference_group_norm(x, num_groups, eps)

    feedback = EXERCISES["ch3.group-norm-einsum"].check(group_norm)
    assert not feedback.correct and "calls torch.nn.functional.group_norm" in feedback.message


def test_a_bottleneck_instance_is_not_a_class():
    block = ch4._bottleneck_solution()(256, 64)
    feedback = EXERCISES["ch4.bottleneck-block"].check(block)
    assert not feedback.correct and "not an instance" in feedback.message


def test_a_bottleneck_with_bn1_and_bn2_registered_in_swapped_order_is_right():
    Good = ch4._bottleneck_solution()

    class Swapped(torch.nn.Module):
        def __init__(self, inplanes, planes):
            super().__init__()
            self.conv1 = torch.nn.Conv2d(inplanes, planes, 1, bias=False)
            self.bn_b = torch.nn.BatchNorm2d(planes)  # used second, registered first
            self.bn_a = torch.nn.BatchNorm2d(planes)
            self.conv2 = torch.nn.Conv2d(planes, planes, 3, padding=1, bias=False)
            self.conv3 = torch.nn.Conv2d(planes, 4 * planes, 1, bias=False)
            self.bn3 = torch.nn.BatchNorm2d(4 * planes)

        def forward(self, x):
            out = torch.relu(self.bn_a(self.conv1(x)))
            out = torch.relu(self.bn_b(self.conv2(out)))
            return torch.relu(self.bn3(self.conv3(out)) + x)

    assert EXERCISES["ch4.bottleneck-block"].check(Swapped).correct
    assert EXERCISES["ch4.bottleneck-block"].check(Good).correct


# ------------------------------------------------------------------ references agree with the library


def test_reference_group_norm_matches_torch():
    rng = np.random.default_rng(1)
    for shape, groups in (((2, 6, 3, 3), 3), ((2, 4, 3, 3), 1), ((2, 4, 3, 3), 4)):
        x = rng.standard_normal(shape)
        expected = torch.nn.functional.group_norm(torch.as_tensor(x), groups).numpy()
        np.testing.assert_allclose(ch3._reference_group_norm(x, groups), expected, atol=1e-10)


def test_reference_option_a_matches_zero_pad_shortcut():
    from godeep.residual import ZeroPadShortcut

    x = torch.randn(2, 16, 8, 8)
    for c_out, stride in ((32, 2), (16, 1)):
        expected = ZeroPadShortcut(16, c_out, stride)(x)
        assert torch.equal(ch4._option_a_solution()(x, c_out, stride), expected)


def test_reference_bottleneck_matches_the_library_block_on_the_same_weights():
    from godeep.residual import Bottleneck

    torch.manual_seed(0)
    ours, library = ch4._bottleneck_solution()(64, 16), Bottleneck(64, 16)
    library.load_state_dict(ours.state_dict(), strict=False)
    x = torch.randn(2, 64, 5, 5)
    assert torch.allclose(ours(x), library(x), atol=1e-6)


def test_keras_reference_initializer_is_accepted():
    pytest.importorskip("keras")
    feedback = EXERCISES["ch2.kaiming-uniform"].check(ch2._reference_kaiming_keras)
    assert feedback.correct, feedback.message


def test_keras_initializer_subclass_is_accepted_and_library_initializers_are_not():
    keras = pytest.importorskip("keras")

    class MyHeUniform(keras.initializers.Initializer):
        def __call__(self, shape, dtype=None):
            bound = math.sqrt(6.0 / math.prod(shape[:-1]))
            return keras.random.uniform(shape, minval=-bound, maxval=bound, dtype=dtype)

    ex = EXERCISES["ch2.kaiming-uniform"]
    assert ex.check(MyHeUniform()).correct
    assert ex.check(MyHeUniform).correct  # the class: the checker instantiates it
    for library in (keras.initializers.HeUniform(), keras.initializers.HeUniform, "he_uniform"):
        assert not ex.check(library).correct


def test_framework_detection():
    assert framework_of(torch.nn.Linear) == "torch"
    assert framework_of(torch.nn.Linear(2, 2)) == "torch"
    assert framework_of(lambda shape: shape) is None
    assert framework_of(3) is None
    keras = pytest.importorskip("keras")
    assert framework_of(keras.layers.Dense) == "keras"
    assert framework_of(keras.initializers.HeUniform()) == "keras"


# ------------------------------------------------------------------ no checker raises


def _raises(*args, **kwargs):
    raise RuntimeError("boom")


class _Opaque:
    pass


JUNK = [
    None,
    "",
    3,
    [],
    {},
    float("nan"),
    _raises,
    lambda *a, **k: 0,
    _Opaque(),
    _Opaque,
    (None, None),
]


@pytest.mark.parametrize("key", sorted(EXERCISES))
def test_no_checker_raises_on_junk(key):
    ex = EXERCISES[key]
    for junk in JUNK:
        feedback = ex.check(junk)
        assert isinstance(feedback, Feedback) and not feedback.correct, (junk, feedback)
        assert feedback.message


def test_an_exception_in_the_answer_names_it():
    feedback = EXERCISES["ch4.bottleneck-block"].check(_raises)
    assert not feedback.correct and "RuntimeError: boom" in feedback.message


# ------------------------------------------------------------------ the unanswered state stays as printed in the book


@pytest.mark.parametrize(
    "key, params, message",
    [
        (
            "ch2.kaiming-uniform",
            "tensor",
            "your function returns None and leaves the tensor as it was",
        ),
        ("ch3.group-norm-einsum", "x, num_groups, eps=1e-5", "your function returns None"),
        ("ch3.bn-backward", "dy, x, gamma, eps=1e-5", "your function returns None"),
        ("ch3.find-the-bug", "model, x, y", "your function returns None"),
        ("ch4.option-a", "x, out_channels, stride", "your function returns None"),
    ],
)
def test_an_empty_function_is_still_unanswered(key, params, message):
    namespace = {}
    exec(f"def answer({params}): ...", namespace)
    feedback = EXERCISES[key].check(namespace["answer"])
    assert not feedback.answered and feedback.message.startswith(message), feedback


# ------------------------------------------------------------------ forbidden calls are restored


def test_forbidden_functions_are_restored_after_a_check_even_on_error():
    originals = (
        torch.nn.init.kaiming_uniform_,
        torch.nn.functional.group_norm,
        torch.Tensor.backward,
    )
    for key, answer in (
        ("ch2.kaiming-uniform", _torch_kaiming),
        ("ch3.group-norm-einsum", _raises),
        ("ch3.bn-backward", _autograd_bn_backward),
    ):
        EXERCISES[key].check(answer)
    assert (
        torch.nn.init.kaiming_uniform_,
        torch.nn.functional.group_norm,
        torch.Tensor.backward,
    ) == originals
    x = torch.ones(2, requires_grad=True)
    (x * x).sum().backward()  # autograd works again
    assert torch.equal(x.grad, torch.full((2,), 2.0))


def test_forbid_patches_functions_classes_and_inherited_methods(monkeypatch):
    module = types.ModuleType("fake_framework")

    class Base:
        def __call__(self):
            return "base"

    class Child(Base):
        pass

    module.fn, module.Base, module.Child = (lambda: "fn"), Base, Child
    monkeypatch.setitem(sys.modules, "fake_framework", module)
    fn = module.fn
    guard = exercises._Forbid(
        [
            ("fake_framework", "fn", "fn"),
            ("fake_framework", "Child", "Child"),
            ("fake_framework", "Child.__call__", "call"),
        ]
    )
    instance = Child.__new__(Child)
    with pytest.raises(ForbiddenCall):
        with guard:
            for call in (module.fn, Child, instance):
                with pytest.raises(ForbiddenCall):
                    call()
            raise ForbiddenCall("escape")
    assert module.fn is fn and "__init__" not in vars(Child) and "__call__" not in vars(Child)
    assert instance() == "base" and guard.called == ["fn", "Child", "call"]


def test_a_framework_not_imported_is_not_imported_to_forbid_it():
    assert exercises._resolve("no_such_framework_xyz", "grad") is None


# ------------------------------------------------------------------ unknown names


def test_unknown_exercise_names_list_the_valid_ones():
    with pytest.raises(UnknownExercise) as info:
        get("ch2.conv-fan")
    error = info.value
    assert isinstance(error, KeyError) and isinstance(error, AttributeError)
    assert "Did you mean 'ch2.conv-fans'?" in str(error) and "ch4.bottleneck-block" in str(error)
    with pytest.raises(KeyError, match="Valid names"):
        REGISTRY["nope"]
    with pytest.raises(UnknownExercise):
        get(3)
    assert get("ch2.conv-fans") is EXERCISES["ch2.conv-fans"]


def test_unknown_attribute_of_a_chapter_lists_its_exercises():
    with pytest.raises(AttributeError, match="Did you mean 'kaiming_uniform'.*conv_fans"):
        ch2.kaiming_uniforms
    assert not hasattr(ch2, "kaiming_uniforms") and getattr(ch2, "nope", None) is None
    with pytest.raises(AttributeError):  # dunder probes keep the plain error
        ch2.__wrapped__


def test_a_keras_bottleneck_is_checked_the_same_way():
    pytest.importorskip("keras")
    ex = EXERCISES["ch4.bottleneck-block"]
    feedback = ex.check(ch4._bottleneck_keras_solution())
    assert feedback.correct and "Keras block" in feedback.message, feedback.message
    from godeep.keras.residual import Bottleneck

    for library in (Bottleneck, lambda inplanes, planes: Bottleneck(inplanes, planes)):
        feedback = ex.check(library)
        assert not feedback.correct and "godeep.keras.residual.Bottleneck" in feedback.message, (
            feedback.message
        )
    assert (
        "bn2 is created but not used" in ex.check(ch4._wrong_bottleneck_keras("skip-bn2")).message
    )


def test_functions_that_use_torch_are_answers_not_instances():
    Good = ch4._bottleneck_solution()

    def make(inplanes, planes):
        torch.manual_seed(0)
        return Good(inplanes, planes)

    assert framework_of(make) == "torch"
    assert EXERCISES["ch4.bottleneck-block"].check(make).correct
    assert EXERCISES["ch4.option-a"].check(ch4._option_a_solution()).correct


def test_a_keras_evaluate_is_checked_in_inference_mode():
    pytest.importorskip("keras")
    ex = EXERCISES["ch3.find-the-bug"]
    assert framework_of(ch3._reference_evaluate_keras) == "keras"
    assert ex.check(ch3._reference_evaluate_keras).correct
    assert "training=True" in ex.check(ch3._buggy_evaluate_keras).message

    def constant(model, x, y):
        import keras  # noqa: F401 - marks the answer as Keras

        return 1.0

    assert "of these labels right" in ex.check(constant).message


def test_a_group_norm_written_with_keras_ops_is_accepted():
    keras = pytest.importorskip("keras")

    def group_norm(x, num_groups, eps=1e-5):
        n, c, h, w = x.shape
        g = keras.ops.reshape(
            keras.ops.convert_to_tensor(x), (n, num_groups, c // num_groups, h, w)
        )
        count = c // num_groups * h * w
        mean = keras.ops.einsum("ngchw->ng", g) / count
        centred = g - mean[:, :, None, None, None]
        var = keras.ops.einsum("ngchw,ngchw->ng", centred, centred) / count
        return keras.ops.reshape(
            centred / keras.ops.sqrt(var[:, :, None, None, None] + eps), (n, c, h, w)
        )

    feedback = EXERCISES["ch3.group-norm-einsum"].check(group_norm)
    assert feedback.correct, feedback.message


def test_a_bottleneck_that_overwrites_its_input_in_place_is_rejected():
    Good = ch4._bottleneck_solution()

    class InPlace(Good):
        def forward(self, x):
            residual = x  # an alias: relu_ below changes it too (section 4.2's silent pitfall)
            out = torch.relu(self.bn1(self.conv1(torch.relu_(x))))
            out = torch.relu(self.bn2(self.conv2(out)))
            return torch.relu(self.bn3(self.conv3(out)) + residual)

    feedback = EXERCISES["ch4.bottleneck-block"].check(InPlace)
    assert not feedback.correct and "differs from the reference" in feedback.message, (
        feedback.message
    )


def test_a_keras_option_a_shortcut_is_checked_on_nhwc_tensors():
    pytest.importorskip("keras")
    feedback = EXERCISES["ch4.option-a"].check(ch4._option_a_keras_solution())
    assert feedback.correct and "Keras twin" in feedback.message, feedback.message


# ------------------------------------------------------------------ coding exercises in both frameworks


def test_solutions_live_in_the_solutions_modules():
    """One source per solution: every both-framework reference answer is defined in godeep.exercises.solutions."""
    for key, ex in EXERCISES.items():
        if not ex.frameworks:
            continue
        for answer in (ex.solution(), ex.keras_solution()):
            assert answer.__module__.startswith("godeep.exercises.solutions."), (
                key,
                answer.__module__,
            )


def test_the_checker_may_build_models_with_the_forbidden_functions_the_reader_may_not():
    """library_allowed(): nn.Linear calls kaiming_uniform_ in its constructor while the check forbids it."""
    from godeep.exercises import library_allowed

    original = torch.nn.init.kaiming_uniform_
    with exercises._Forbid([("torch.nn.init", "kaiming_uniform_", "k")]):
        with pytest.raises(ForbiddenCall):
            torch.nn.Linear(3, 3)
        with library_allowed():
            assert torch.nn.init.kaiming_uniform_ is original
            torch.nn.Linear(3, 3)
        with pytest.raises(ForbiddenCall):
            torch.nn.Linear(3, 3)
    assert torch.nn.init.kaiming_uniform_ is original


def test_a_keras_block_that_forces_training_true_is_caught_in_inference():
    from godeep.exercises.coding import ch4 as coding4

    feedback = EXERCISES["ch4.basic-block"].check(coding4._wrong_basic("training-true", "keras"))
    assert not feedback.correct and "training=False" in feedback.message


def test_he_init_reports_the_fan_a_keras_reader_confuses():
    from godeep.exercises.coding import ch2 as coding2

    feedback = EXERCISES["ch2.he-normal-init"].check(coding2._he_keras_fan_out)
    assert not feedback.correct and "kernel.shape[0]" in feedback.message


def test_every_reference_solution_is_a_top_level_object_of_its_module():
    """What the book's literalinclude :pyobject: needs: the solution is reachable by its name in its module."""
    import importlib

    for key, ex in EXERCISES.items():
        for answer in (ex.solution(), ex.keras_solution()) if ex.frameworks else ():
            module = importlib.import_module(answer.__module__)
            assert getattr(module, answer.__name__) is answer, key
            assert answer.__qualname__ == answer.__name__, (
                key,
                answer.__qualname__,
            )  # not nested in a function


# ------------------------------------------------------------------ the newest sections' facts


def test_dense_width_is_the_width_of_the_sections_densenet():
    """4.6: the checker's 120 (and its hints 100, 50, 130) are what densenet_cifar builds."""
    from godeep import residual

    net = residual.densenet_cifar((8, 8), 10, in_channels=1)
    second = [layer.conv1.in_channels for layer in net.features.denseblock2.values()]
    assert second[-1] == EXERCISES["ch4.dense-width"].solution() == 120
    assert net.features.transition1.conv.in_channels == 100
    assert net.features.transition1.conv.out_channels == second[0] == 50
    assert net.classifier.in_features == 130  # the block's output: the hint for 130
    assert {layer.conv2.in_channels for layer in net.features.denseblock2.values()} == {40}


def test_wide_factor_message_counts_the_sections_nets():
    """4.7: the parameter counts quoted by the checker, and its reason for 3.375 over 3: with
    every stage's first conv reading the full width, the 3x3 block convs match exactly."""
    from godeep import residual
    from godeep.exercises.width import PARAMS

    def build(depth, widths):
        return residual.cifar_resnet(depth, widths=widths, in_channels=1)

    count = residual.count_parameters
    assert count(build(56, (8, 16, 32))) == PARAMS["ResNet-56"]
    assert count(build(8, (24, 48, 96))) == PARAMS["ResNet-8 x3"]
    assert count(build(8, (27, 54, 108))) == PARAMS["ResNet-8 x3.375"]

    def block_convs(net, full_width):
        """Weights of the blocks' 3x3 convs (the stem, named conv1, left out); full_width:
        as if each read as many channels as it writes."""
        total = 0
        for name, m in net.named_modules():
            if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3) and name != "conv1":
                total += 9 * (m.out_channels if full_width else m.in_channels) * m.out_channels
        return total

    deep, wide = build(56, (8, 16, 32)), build(8, (24, 48, 96))
    assert block_convs(deep, True) == block_convs(wide, True)  # the exercise's simplification
    # as built, the half-width first convs leave ResNet-8 x3 over 20% short
    assert block_convs(wide, False) < 0.8 * block_convs(deep, False)


def test_sd_blocks_matches_drop_rates():
    """5.9: the expected survivors are the sum of 1 - drop_rates, and the closed form holds."""
    from godeep.core.resmlp import drop_rates
    from godeep.exercises.stochastic import expected_survivors

    assert EXERCISES["ch5.sd-blocks"].solution() == pytest.approx(
        sum(1 - q for q in drop_rates(0.8, 100))
    )
    for depth, p_last in ((12, 0.5), (54, 0.5), (7, 0.9)):
        assert expected_survivors(depth, p_last) == pytest.approx(
            sum(1 - q for q in drop_rates(1 - p_last, depth))
        )
    assert expected_survivors(54, 0.5) == pytest.approx(40.25)  # 5.9's ResNet-110 number
    with pytest.raises(ValueError):
        expected_survivors(0, 0.5)


def test_nf_beta_matches_the_recursion_by_hand():
    """5.10: the checker's beta (from nf_expected_stds) against beta^2 = 1 + (blocks since the
    stem or the last transition) x alpha^2, worked by hand for the section's net."""
    from godeep.exercises.normalizer_free import beta_at

    by_hand = {1: 1.0, 6: 1.2, 7: 1.24, 8: 1.04, 13: 1.24, 18: 1.2}  # beta^2, alpha = 0.2
    for block, variance in by_hand.items():
        assert beta_at(block) == pytest.approx(math.sqrt(variance)), block
    # one block per stage: each transition restarts its output at 1 + alpha^2
    assert beta_at(3, per_stage=1, alpha=0.5) == pytest.approx(math.sqrt(1.25))
    assert EXERCISES["ch5.nf-beta"].solution() == pytest.approx(math.sqrt(1.2))
    for bad in (0, 19):
        with pytest.raises(ValueError):
            beta_at(bad)


# ------------------------------------------------------------------ 1.4, 2.4, 2.5, 3.4, 3.6, 3.7


def test_clip_share_is_what_godeep_clips():
    """1.4: clipping by global norm multiplies the first layer's gradient by c / n too."""
    from godeep.clipping import clip_grad_norm_
    from godeep.exercises.clip_share import FIRST, GLOBAL, OUT, clipped_norm

    rest = math.sqrt(GLOBAL**2 - OUT**2 - FIRST**2)  # the layers in between
    params = [torch.nn.Parameter(torch.zeros(4, dtype=torch.float64)) for _ in range(3)]
    for p, norm in zip(params, (FIRST, rest, OUT)):
        p.grad = torch.full((4,), norm / 2, dtype=torch.float64)  # a vector of norm `norm`
    assert float(clip_grad_norm_(params, max_norm=1.0)) == pytest.approx(GLOBAL)
    after = [float(p.grad.norm()) for p in params]
    assert after[0] == pytest.approx(EXERCISES["ch1.clip-share"].solution(), rel=1e-6)
    assert after[0] / after[2] == pytest.approx(FIRST / OUT)  # the share is unchanged
    assert clipped_norm(FIRST, 0.5, 1.0) == FIRST  # below c, nothing changes
    with pytest.raises(ValueError):
        clipped_norm(1.0, 1.0, 0.0)


def test_isometry_gain_is_the_spectrum_of_godeeps_orthogonal_net():
    """2.4: 200 orthogonal layers at gain 1.01 (godeep.init.orthogonal_): every singular value
    of the product is 1.01^200, so the section's isometric share is 1."""
    from godeep import init

    torch.manual_seed(0)
    layers = [init.orthogonal_(torch.empty(16, 16, dtype=torch.float64), 1.01) for _ in range(200)]
    jac = torch.linalg.multi_dot(layers[::-1])
    s = torch.linalg.svdvals(jac).numpy()
    assert s == pytest.approx(np.full(16, EXERCISES["ch2.isometry-gain"].solution()), rel=1e-9)
    rms = np.sqrt(np.mean(s**2))
    assert np.mean((s > rms / 2) & (s < 2 * rms)) == 1.0


def test_lsuv_pooled_is_what_godeeps_lsuv_does():
    """2.5: lsuv_ measures 2.75 on the two units and leaves unit B with std 1/sqrt(2.75)."""
    from godeep import init
    from godeep.exercises.lsuv_pooled import OFFSET, pooled_variance
    from godeep.lsuv import output_variances

    z = torch.randn(256, dtype=torch.float64)
    z = (z - z.mean()) / z.std(unbiased=False)  # mean 0, variance 1 over the batch
    x = torch.stack([torch.ones_like(z), z], dim=1)
    model = torch.nn.Sequential(torch.nn.Linear(2, 2, bias=False).double())
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[OFFSET, 0.0], [0.0, 1.0]]))
    assert output_variances(model, x)["0"] == pytest.approx(pooled_variance(OFFSET))
    init.lsuv_(model, x, tol=1e-6, orthogonal=False)
    with torch.no_grad():
        out = model(x)
    assert float(out.var(unbiased=False)) == pytest.approx(1.0, abs=1e-6)
    assert float(out[:, 1].std(unbiased=False)) == pytest.approx(
        EXERCISES["ch2.lsuv-pooled"].solution(), rel=1e-6
    )


def test_bn_lead_is_the_share_section_3_4_computes():
    """3.4: the notebook's share, (kaiming - naive) / (batch - naive), on its own numbers."""
    from godeep.exercises.bn_lead import recovered_share

    assert EXERCISES["ch3.bn-lead"].solution() == pytest.approx(0.75)
    assert recovered_share(0.4, 0.4, 0.7) == 0.0 and recovered_share(0.4, 0.7, 0.7) == 1.0
    with pytest.raises(ValueError):
        recovered_share(0.5, 0.6, 0.5)


def test_norm_growth_is_a_step_on_a_weight_feeding_godeeps_batch_norm():
    """3.6: the gradient of a weight feeding godeep's BatchNorm is orthogonal to each unit's
    weight vector, so one SGD step gives each unit the norm the checker computes."""
    from godeep.exercises.norm_growth import norm_after_step
    from godeep.norms import BatchNorm

    torch.manual_seed(0)
    w = torch.randn(5, 8, dtype=torch.float64, requires_grad=True)
    x, c = torch.randn(32, 8, dtype=torch.float64), torch.randn(32, 5, dtype=torch.float64)
    bn = BatchNorm(5, eps=1e-12, affine=False, track_running_stats=False)  # exact up to eps
    (c * bn(x @ w.T)).sum().backward()
    g, w = w.grad, w.detach()
    cosines = (w * g).sum(1) / (w.norm(dim=1) * g.norm(dim=1))
    assert float(cosines.abs().max()) < 1e-10
    lr = 0.5
    after = (w - lr * g).norm(dim=1)
    expected = [
        norm_after_step(float(a), float(b), lr) for a, b in zip(w.norm(dim=1), g.norm(dim=1))
    ]
    assert after.numpy() == pytest.approx(expected, rel=1e-10)
    assert EXERCISES["ch3.norm-growth"].solution() == 5.0


def test_folding_is_godeeps_fold_batch_norm():
    """3.7: deploy.fold_batch_norm on the exercise's conv and BatchNorm gives (3, -7)."""
    from godeep.deploy import fold_batch_norm
    from godeep.exercises.folding import BETA, GAMMA, MU, VAR, B, W

    conv, bn = torch.nn.Conv2d(1, 1, 1).double(), torch.nn.BatchNorm2d(1, eps=0.0).double()
    with torch.no_grad():
        conv.weight.fill_(W), conv.bias.fill_(B)
        bn.running_mean.fill_(MU), bn.running_var.fill_(VAR)
        bn.weight.fill_(GAMMA), bn.bias.fill_(BETA)
    folded = fold_batch_norm(conv, bn.eval())
    got = (folded.weight.item(), folded.bias.item())
    assert got == pytest.approx(EXERCISES["ch3.folding"].solution()) == (3.0, -7.0)
    x = torch.randn(2, 1, 3, 3, dtype=torch.float64)
    with torch.no_grad():
        assert torch.allclose(folded(x), bn(conv(x)))


def test_rms_mean_share_is_what_rms_norm_returns():
    """3.8: RMSNorm of z + 3 (z: mean 0, RMS 1) puts 9/10 of its energy in the mean, LayerNorm
    none; and the closed form holds for other shifts and scales."""
    from godeep.exercises.rms_offset import mean_energy_share
    from godeep.rmsnorm import rms_norm

    z = torch.tensor([1.0, -1.0, 1.0, -1.0], dtype=torch.float64)
    y = rms_norm(z + 3.0, (4,), eps=0.0)
    assert float((y**2).mean()) == pytest.approx(1.0)
    assert float(y.mean() ** 2) == pytest.approx(EXERCISES["ch3.rms-mean-share"].solution())
    assert EXERCISES["ch3.rms-mean-share"].solution() == pytest.approx(0.9)
    layer = torch.nn.functional.layer_norm(z + 3.0, (4,), eps=0.0)
    assert float(layer.mean()) == pytest.approx(0.0, abs=1e-12)
    g = torch.Generator().manual_seed(0)
    for b, scale in ((10.0, 1.0), (3.0, 2.5), (0.5, 0.3)):
        z = torch.randn(64, generator=g, dtype=torch.float64)
        z = scale * (z - z.mean()) / (z - z.mean()).pow(2).mean().sqrt()
        y = rms_norm(z + b, (64,), eps=0.0)
        assert float(y.mean() ** 2) == pytest.approx(mean_energy_share(b, scale))
    with pytest.raises(ValueError):
        mean_energy_share(3.0, 0.0)


def test_article_params_counts_what_the_builder_builds():
    """4.4: the checker's counts (the answer, its hints, MNIST's 513,994 and the digits'
    145,354) are those of mnist_residual_convnet, with or without the shortcuts."""
    from godeep import residual
    from godeep.exercises.article_params import MNIST_PARAMS, article_params

    count = residual.count_parameters
    for channels, size in ((1, 28), (1, 8), (3, 32), (1, 32), (3, 28), (3, 64)):
        for shortcut in (True, False):
            net = residual.mnist_residual_convnet(channels, size, residual=shortcut)
            assert count(net) == article_params(channels, size), (channels, size, shortcut)
    assert article_params(1, 28) == MNIST_PARAMS and article_params(1, 8) == 145_354
    assert EXERCISES["ch4.article-params"].solution() == 637_450
    with pytest.raises(ValueError):
        article_params(3, 30)


def test_highway_step_is_what_an_sgd_step_does_to_the_layer():
    """4.5: with W_T = 0, one small SGD step on W_H moves a godeep Highway layer's output by
    sigmoid(b_T)^2 of what it moves a plain layer relu(W_H x + b_H) with the same weights,
    input and upstream gradient."""
    from godeep.exercises.highway_brake import step_ratio
    from godeep.residual import Highway

    torch.manual_seed(0)
    for bias in (-2.0, -1.0, 2.0):
        layer = Highway(16, gate_bias=bias).double()
        with torch.no_grad():
            layer.gate.weight.zero_()
        x = torch.randn(32, 16, dtype=torch.float64)
        upstream = torch.randn(32, 16, dtype=torch.float64)

        def plain(w):
            return torch.relu(x @ w.T + layer.transform.bias)

        def highway(w):
            t = torch.sigmoid(layer.gate(x))
            return t * torch.relu(x @ w.T + layer.transform.bias) + (1 - t) * x

        changes = []
        for f in (highway, plain):
            w = layer.transform.weight.detach().clone().requires_grad_(True)
            (grad,) = torch.autograd.grad((f(w) * upstream).sum(), w)
            with torch.no_grad():
                changes.append((f(w - 1e-6 * grad) - f(w)).norm())
        assert torch.allclose(highway(layer.transform.weight), layer(x))
        assert float(changes[0] / changes[1]) == pytest.approx(step_ratio(bias), rel=1e-4)
    assert EXERCISES["ch4.highway-step"].solution() == pytest.approx(1 / (1 + math.e**2) ** 2)


def test_leaky_explosion_matches_a_batch_normalized_plain_net():
    """5.1: the closed form gives the ReLU's sqrt(pi / (pi - 1)) and the linear net's 1, and the
    checker's 1.159 for slope 0.1 is the factor measured on the section's 50-block plain net
    (width 128, BN, weights N(0, 1/n), a batch of 128 digits), distinct from the ReLU's."""
    from godeep import data, resmlp, signals
    from godeep.exercises.bn_explosion import leaky_relu_factor

    assert leaky_relu_factor(0.0) == pytest.approx(math.sqrt(math.pi / (math.pi - 1)))
    assert leaky_relu_factor(1.0) == pytest.approx(1.0)
    z = np.random.default_rng(0).standard_normal(2_000_000)
    phi = np.where(z > 0, z, 0.1 * z)
    assert leaky_relu_factor() == pytest.approx(
        math.sqrt(np.mean(np.where(z > 0, 1.0, 0.01)) / phi.var()), rel=2e-3
    )
    digits = data.digits()
    x = torch.as_tensor(digits.x_train[:128], dtype=torch.float32)
    y = torch.as_tensor(digits.y_train[:128])
    for seed in (0, 1):
        torch.manual_seed(seed)
        model = resmlp.residual_mlp(
            64,
            128,
            50,
            10,
            plain=True,
            batch_norm=True,
            init=lambda w: torch.nn.init.normal_(w, 0.0, math.sqrt(1 / w.shape[1])),
        )
        for block in resmlp.blocks(model).values():
            block.act = torch.nn.LeakyReLU(0.1)
        grad = signals.record(model, x, y, layers=list(resmlp.blocks(model))).column("grad_std")
        measured = float(np.exp(-np.mean(np.diff(np.log(grad)))))
        assert measured == pytest.approx(EXERCISES["ch5.leaky-explosion"].solution(), rel=0.02)
        assert measured < 0.98 * leaky_relu_factor(0.0)
    with pytest.raises(ValueError):
        leaky_relu_factor(1.5)


def test_prenorm_stream_predicts_the_scaled_stream():
    """5.4: the stream starts with variance 2 (token + position embedding), GPT-2's scaling
    multiplies the 2L output projections by 1/sqrt(2L), and the exercise's rule (branch
    variances add) predicts the scaled stream from the unscaled one within 10%."""
    from godeep import transformer
    from godeep.core.transformer import sequence_task
    from godeep.exercises.prenorm_stream import scaled_stream_std

    tokens = torch.as_tensor(sequence_task("sort", 64, length=8, vocab=10, seed=100)[0])

    def stream_std(scaled: bool, seed: int) -> float:
        torch.manual_seed(seed)
        model = transformer.TinyTransformer(
            10, d_model=32, n_heads=4, n_layers=24, max_len=8, norm="pre", scaled_init=scaled
        )
        with torch.no_grad():
            x = model.tok(tokens) + model.pos(torch.arange(8))
            x0_var = float(x.var())
            for block in model.blocks:
                x = block(x)
        assert x0_var == pytest.approx(2.0, rel=0.15)
        return float(x.std())

    for seed in (0, 1, 2):
        unscaled, scaled = stream_std(False, seed), stream_std(True, seed)
        assert 4.0 < unscaled < 5.0
        assert scaled_stream_std(unscaled) == pytest.approx(scaled, rel=0.1)
    torch.manual_seed(0)
    plain = transformer.TinyTransformer(10, n_layers=24, max_len=8)
    torch.manual_seed(0)
    gpt2 = transformer.TinyTransformer(10, n_layers=24, max_len=8, scaled_init=True)
    ratio = gpt2.blocks[5].mlp.fc2.weight / plain.blocks[5].mlp.fc2.weight
    assert torch.allclose(ratio, torch.full_like(ratio, 1 / math.sqrt(48)))
    assert EXERCISES["ch5.prenorm-stream"].solution() == pytest.approx(1.537, abs=1e-3)
    with pytest.raises(ValueError):
        scaled_stream_std(1.0)
