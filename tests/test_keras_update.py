"""godeep.keras.train._update.apply_update: Keras' SGD and Adam updates, bit for bit, in fewer ops."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from godeep.keras.train._update import apply_update  # noqa: E402

SHAPES = [(3, 4), (4,), (2, 3, 5)]
#: the sizes of a course network's weights (a 3x3 conv, a bias, a classifier, odd lengths), for the
#: fused SGD kernels, which are vectorized and so take other code paths than a few numbers do
LAYER_SHAPES = [(3, 3, 16, 32), (32,), (64, 10), (1000,), (257, 33), (7,)]


def _variables(dtypes=("float32", "float32", "float64"), shapes=SHAPES):
    rng = np.random.default_rng(0)
    return [
        keras.Variable(rng.normal(size=s).astype(d), name=f"w{i}")
        for i, (s, d) in enumerate(zip(shapes, dtypes))
    ]


def _grads(variables, step: int, drop: int | None = None):
    rng = np.random.default_rng(100 + step)
    out = [
        tf.constant(rng.normal(scale=10.0 ** rng.integers(-9, 1), size=v.shape), dtype=v.dtype)
        for v in variables
    ]
    if drop is not None:
        out[drop] = None
    return out


def _run(
    make_opt,
    lean: bool,
    steps: int = 6,
    drop: int | None = None,
    lrs=None,
    dtypes=None,
    fused: bool = True,
    shapes=SHAPES,
):
    """Variables and optimizer state after ``steps`` traced steps (one trace, as fit reuses it)."""
    variables = _variables(dtypes or ("float32", "float32", "float64"), shapes)
    opt = make_opt()
    opt.build(variables)

    @tf.function(autograph=False)
    def step(*grads):
        grads = list(grads)
        if drop is not None:
            grads[drop] = None
        if lean:
            apply_update(opt, grads, variables, fused=fused)
        else:
            opt.apply_gradients(zip(grads, variables))

    for t in range(steps):
        if lrs is not None:  # a new learning rate between steps (fit's reset_optimizer does this)
            opt.learning_rate = lrs[t]
        step(
            *[
                g if g is not None else tf.zeros(v.shape, v.dtype)
                for g, v in zip(_grads(variables, t), variables)
            ]
        )
    return [v.numpy() for v in variables], [v.numpy() for v in opt.variables]


OPTIMIZERS = {
    "sgd-momentum": lambda: keras.optimizers.SGD(learning_rate=0.1, momentum=0.9),
    "sgd": lambda: keras.optimizers.SGD(learning_rate=0.05),
    "adam": lambda: keras.optimizers.Adam(learning_rate=1e-3, epsilon=1e-8),
    "adam-default-eps": lambda: keras.optimizers.Adam(learning_rate=3e-2),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_same_bits_as_apply_gradients(name):
    """Weights and optimizer state (slots, step counter) after six steps, float32 and float64."""
    lean = _run(OPTIMIZERS[name], lean=True)
    keras_ = _run(OPTIMIZERS[name], lean=False)
    for a, b in zip(lean[0] + lean[1], keras_[0] + keras_[1]):
        np.testing.assert_array_equal(a, b)
    start = [v.numpy() for v in _variables()]
    assert all(not np.array_equal(a, b) for a, b in zip(lean[0], start))  # it did train


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("name", ["sgd-momentum", "sgd"])
def test_sgd_fused_or_not_same_bits_on_layer_sized_weights(name, fused, dtype):
    """SGD's one op per variable (ResourceApplyKerasMomentum, ResourceApplyGradientDescent) and
    the separate ops of ``fused=False`` round as Keras' update does, on weights of a network's
    sizes, over twenty steps."""
    dtypes = (dtype,) * len(LAYER_SHAPES)
    run = dict(steps=20, dtypes=dtypes, shapes=LAYER_SHAPES)
    lean = _run(OPTIMIZERS[name], lean=True, fused=fused, **run)
    keras_ = _run(OPTIMIZERS[name], lean=False, **run)
    for a, b in zip(lean[0] + lean[1], keras_[0] + keras_[1]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["sgd-momentum", "adam"])
def test_learning_rate_is_read_at_each_step(name):
    """The traced step follows a learning rate set after tracing, as Keras' update does."""
    lrs = [0.1, 0.1, 0.01, 0.2, 0.05, 0.05]
    lean = _run(OPTIMIZERS[name], lean=True, lrs=lrs)
    keras_ = _run(OPTIMIZERS[name], lean=False, lrs=lrs)
    for a, b in zip(lean[0] + lean[1], keras_[0] + keras_[1]):
        np.testing.assert_array_equal(a, b)
    fixed = _run(OPTIMIZERS[name], lean=True)
    assert not np.array_equal(lean[0][0], fixed[0][0])


@pytest.mark.parametrize("name", ["sgd-momentum", "adam"])
def test_a_missing_gradient_leaves_its_variable(name):
    lean = _run(OPTIMIZERS[name], lean=True, drop=1)
    keras_ = _run(OPTIMIZERS[name], lean=False, drop=1)
    for a, b in zip(lean[0] + lean[1], keras_[0] + keras_[1]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(lean[0][1], _variables()[1].numpy())


def _graph_ops(make_opt, lean: bool, fused: bool = True) -> int:
    variables = _variables(("float32",) * 3)
    opt = make_opt()
    opt.build(variables)

    @tf.function(autograph=False)
    def step(*grads):
        if lean:
            apply_update(opt, list(grads), variables, fused=fused)
        else:
            opt.apply_gradients(zip(grads, variables))

    specs = [tf.TensorSpec(v.shape, v.dtype) for v in variables]
    return len(step.get_concrete_function(*specs).graph.get_operations())


@pytest.mark.parametrize("name", ["sgd-momentum", "adam"])
def test_fewer_graph_ops(name):
    """What the update is for: a smaller graph to build and optimize (Adam's scalars once, not
    per variable: three quarters of the ops at most)."""
    lean, keras_ = _graph_ops(OPTIMIZERS[name], lean=True), _graph_ops(OPTIMIZERS[name], lean=False)
    assert lean < (0.75 if name == "adam" else 1.0) * keras_
    if name == "sgd-momentum":  # fused: one op per variable, besides the step's few scalars
        fused, separate = lean, _graph_ops(OPTIMIZERS[name], lean=True, fused=False)
        assert separate - fused >= 5 * len(SHAPES)  # 7 ops per variable become 1


@pytest.mark.parametrize(
    "make_opt",
    [
        lambda: keras.optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True),
        lambda: keras.optimizers.Adam(learning_rate=1e-3, amsgrad=True),
        lambda: keras.optimizers.SGD(learning_rate=0.1, momentum=0.9, global_clipnorm=1.0),
        lambda: keras.optimizers.AdamW(learning_rate=1e-3),
        lambda: keras.optimizers.SGD(
            learning_rate=keras.optimizers.schedules.ExponentialDecay(0.1, 2, 0.5)
        ),
    ],
    ids=["nesterov", "amsgrad", "clipnorm", "adamw", "schedule"],
)
def test_other_optimizers_go_to_keras(make_opt):
    """Cases the update does not write out are Keras' own update, bit for bit (float32 only:
    Keras' global clip-norm fails on mixed dtypes)."""
    lean = _run(make_opt, lean=True, dtypes=("float32",) * 3)
    keras_ = _run(make_opt, lean=False, dtypes=("float32",) * 3)
    for a, b in zip(lean[0] + lean[1], keras_[0] + keras_[1]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["sgd-momentum", "adam"])
def test_constraints_and_sparse_gradients_go_to_keras(name):
    """A kernel constraint and an embedding's sparse (IndexedSlices) gradient: Keras' update."""

    def train(lean: bool):
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [
                keras.Input((3,), dtype="int32"),
                keras.layers.Embedding(10, 4),
                keras.layers.Flatten(),
                keras.layers.Dense(2, kernel_constraint=keras.constraints.MaxNorm(0.5)),
            ]
        )
        variables = model.trainable_variables
        opt = OPTIMIZERS[name]()
        opt.build(variables)
        x = tf.constant([[1, 2, 3], [4, 5, 1]])

        @tf.function(autograph=False)
        def step():
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.square(model(x)))
            grads = tape.gradient(loss, variables)
            assert isinstance(grads[0], tf.IndexedSlices)
            (apply_update if lean else lambda o, g, v: o.apply_gradients(zip(g, v)))(
                opt, grads, variables
            )

        for _ in range(3):
            step()
        return [v.numpy() for v in model.variables + opt.variables]

    for a, b in zip(train(True), train(False)):
        np.testing.assert_array_equal(a, b)
