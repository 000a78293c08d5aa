"""The optimizer update of a traced training step, written with fewer graph ops than Keras'.

Keras' ``optimizer.apply_gradients`` emits about 11 graph ops per variable for SGD with momentum
and 39 for Adam: each variable's update goes through the distribution machinery, and Adam
recomputes its bias corrections ``beta^t`` and step size ``alpha_t`` for every variable. A
traced step pays for every op twice before it runs: Python builds it (about 0.5 ms an op) and
the graph optimizer rewrites it at the first call. :func:`apply_update` does the same arithmetic
in the same order, with the scalars computed once per step:

* SGD: ``m <- mu m - eta g;  w <- w + m`` (``w <- w - eta g`` without momentum), one fused
  TensorFlow op per variable;
* Adam: ``alpha_t = eta sqrt(1 - beta2^t) / (1 - beta1^t)``;
  ``m <- m + (g - m)(1 - beta1);  v <- v + (g^2 - v)(1 - beta2);
  w <- w - m alpha_t / (sqrt(v) + eps)``.

It reads and writes the optimizer's own slot variables and step counter, so the optimizer's
state is what ``apply_gradients`` would leave; ``tests/test_keras_update.py`` checks the two
bit for bit over several steps. An optimizer or gradient it does not know (a schedule, Nesterov,
AMSGrad, weight decay, EMA, gradient accumulation, loss scaling, a variable constraint, a
sparse gradient) is left to ``apply_gradients``.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from .. import tf


def _is_plain(opt, pairs) -> bool:
    """Whether ``opt`` and the (gradient, variable) ``pairs`` are the cases :func:`apply_update`
    writes out; anything else goes to Keras' own ``apply_gradients``."""
    if type(opt) not in (keras.optimizers.SGD, keras.optimizers.Adam):
        return False
    if (
        not isinstance(opt._learning_rate, keras.Variable)
        or opt.use_ema
        or opt.gradient_accumulation_steps
        or opt.loss_scale_factor is not None
        or opt.weight_decay
        or opt.clipnorm
        or opt.clipvalue
        or opt.global_clipnorm
        or getattr(opt, "nesterov", False)
        or getattr(opt, "amsgrad", False)
    ):
        return False
    return all(
        isinstance(g, tf.Tensor)
        and getattr(v, "constraint", None) is None
        and getattr(v, "overwrite_with_gradient", False) is False
        for g, v in pairs
    )


def apply_update(opt, grads: Sequence, variables: Sequence, fused: bool = True) -> None:
    """``opt.apply_gradients(zip(grads, variables))`` with the same numbers and fewer ops.

    ``opt`` is a built ``keras.optimizers.SGD`` or ``Adam``; a ``None`` gradient leaves its
    variable alone (as Keras does); the step counter ``opt.iterations`` goes up by one.
    ``fused``: SGD in one TensorFlow op per variable. Give ``False`` where the gradients were
    scaled in the same graph (clipping): the graph optimizer then rewrites Keras' separate
    products (``(g s) eta``) and the fused op would round differently.
    """
    pairs = [(g, v) for g, v in zip(grads, variables) if g is not None]
    if not _is_plain(opt, pairs):
        opt.apply_gradients(zip(grads, variables))
        return
    if pairs:
        if isinstance(opt, keras.optimizers.SGD):
            _sgd(opt, pairs, fused)
        else:
            _adam(opt, pairs)
    opt.iterations.assign_add(1)


def _per_dtype(make):
    """``make(dtype)`` once per dtype (the scalars of one step)."""
    cache: dict = {}

    def get(dtype):
        if dtype not in cache:
            cache[dtype] = make(dtype)
        return cache[dtype]

    return get


def _sgd(opt, pairs, fused: bool = True) -> None:
    """Keras' ``SGD.update_step``: ``m <- m mu - g eta; w <- w + m`` (``w <- w - g eta`` at mu = 0).

    One TensorFlow training op per variable (``ResourceApplyKerasMomentum``, whose kernel is
    this very expression, or ``ResourceApplyGradientDescent``) instead of the six or seven ops of
    the same arithmetic written with ``tf.multiply``, ``tf.subtract`` and ``assign``: the same
    products and difference, rounded the same way (``tests/test_keras_update.py``). ``fused=False``:
    the separate ops, which the graph optimizer may rewrite as it rewrites Keras' own.
    """

    def scalars(dtype):
        lr = tf.cast(opt.learning_rate, dtype)
        return lr, (tf.cast(opt.momentum, dtype) if opt.momentum != 0 else None)

    scalars = _per_dtype(scalars)
    for g, v in pairs:
        variable = v.value
        lr, mu = scalars(variable.dtype)
        g = tf.cast(g, variable.dtype)
        if mu is None:
            if fused:
                tf.raw_ops.ResourceApplyGradientDescent(var=variable.handle, alpha=lr, delta=g)
            else:
                variable.assign_sub(tf.multiply(g, lr))
            continue
        m = opt.momentums[opt._get_variable_index(v)].value
        if fused:
            tf.raw_ops.ResourceApplyKerasMomentum(
                var=variable.handle, accum=m.handle, lr=lr, grad=g, momentum=mu, use_nesterov=False
            )
        else:
            m.assign(tf.subtract(tf.multiply(m, mu), tf.multiply(g, lr)))
            variable.assign_add(m.read_value())


def _adam(opt, pairs) -> None:
    """Keras' ``Adam.update_step`` (``amsgrad=False``), its step size ``alpha_t`` computed once."""

    def scalars(dtype):
        lr = tf.cast(opt.learning_rate, dtype)
        local_step = tf.cast(opt.iterations + 1, dtype)
        beta_1_power = tf.pow(tf.cast(opt.beta_1, dtype), local_step)
        beta_2_power = tf.pow(tf.cast(opt.beta_2, dtype), local_step)
        return lr * tf.sqrt(1 - beta_2_power) / (1 - beta_1_power)

    alphas = _per_dtype(scalars)
    for g, v in pairs:
        variable = v.value
        alpha = alphas(variable.dtype)
        g = tf.cast(g, variable.dtype)
        index = opt._get_variable_index(v)
        m, s = opt._momentums[index].value, opt._velocities[index].value
        m.assign_add(tf.multiply(tf.subtract(g, m), 1 - opt.beta_1))
        s.assign_add(tf.multiply(tf.subtract(tf.square(g), s), 1 - opt.beta_2))
        variable.assign_sub(tf.divide(tf.multiply(m, alpha), tf.add(tf.sqrt(s), opt.epsilon)))
