"""A short, readable training loop (PyTorch), and quiet progress bars.

:func:`fit` runs plain minibatch gradient descent,

    W <- W - eta * dE/dW      (optionally with momentum, or Adam),

over a :class:`godeep.data.Dataset`, in the same order of minibatches as its Keras twin
:func:`godeep.keras.train.fit` (the shuffling comes from one NumPy generator seeded with
``seed``), so the two frameworks can be compared step by step.
"""

from __future__ import annotations

import math
from itertools import islice

import numpy as np

from .clipping import (
    adaptive_clip_grad_,
    check_clip,
    check_fit_agc,
    classifier_split,
    clip_grad_norm_,
    clip_grad_value_,
)
from .core.train import (
    LOSSES as LOSSES,  # re-exported: the names fit accepts
    OPTIMIZERS as OPTIMIZERS,
    History,
    batches,
    check_eval_args,
    check_fit_args,
    check_fit_data,
    epoch_plan,
    log_epoch,
    progress,
    progress_enabled,
)

__all__ = [
    "History",
    "batches",
    "check_fit_args",
    "check_fit_data",
    "check_eval_args",
    "epoch_plan",
    "fit",
    "evaluate",
    "log_epoch",
    "progress",
    "progress_enabled",
]


def _loss_fn(loss: str):
    import torch.nn.functional as F

    return F.cross_entropy if loss == "cross_entropy" else F.mse_loss


def evaluate(
    model, x, y, loss: str = "cross_entropy", batch_size: int = 1024
) -> tuple[float, float]:
    """Mean loss and accuracy (NaN for ``mse``) of ``model`` on ``(x, y)``, without gradients."""
    import torch

    check_eval_args(x, y, loss, batch_size)
    param = _parameters(model)[0]
    fn = _loss_fn(loss)
    total, correct, n = 0.0, 0, len(x)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for start in range(0, n, batch_size):
            xb = torch.as_tensor(x[start : start + batch_size], dtype=param.dtype)
            yb = torch.as_tensor(y[start : start + batch_size])
            if loss == "mse":
                yb = yb.to(param.dtype)
            out = model(xb)
            total += float(fn(out, yb, reduction="sum"))
            if loss == "cross_entropy":
                correct += int((out.argmax(1) == yb).sum())
    model.train(was_training)
    if loss == "mse":  # mean over every element, as F.mse_loss(reduction="mean")
        return total / np.size(y), math.nan
    return total / n, correct / n


def fit(
    model,
    data,
    epochs: int = 10,
    lr: float = 0.1,
    batch_size: int = 64,
    optimizer: str = "sgd",
    momentum: float = 0.0,
    loss: str = "cross_entropy",
    seed: int = 0,
    monitor=None,
    desc: str | None = None,
    steps: int | None = None,
    eval_epochs: bool = True,
    clip_grad_norm: float | None = None,
    clip_grad_value: float | None = None,
    agc: float | None = None,
) -> History:
    """Train a PyTorch ``model`` on ``data`` (a :class:`godeep.data.Dataset`) and return a :class:`History`.

    Args:
        optimizer: ``"sgd"`` (with ``momentum``) or ``"adam"`` (eps 1e-8, PyTorch's default).
        loss: ``"cross_entropy"`` on logits with integer labels, or ``"mse"``.
        seed: seeds the order of the minibatches (not the model's initialization).
        monitor: a :class:`godeep.signals.TrainingMonitor` that logs per-layer gradient norms
            and update-to-weight ratios every ``monitor.every`` steps.
        steps: if given, run exactly this many minibatch steps instead of ``epochs`` whole
            epochs (``epochs`` is then not used): the minibatches run on through as many
            shuffled epochs as needed, in the order of :func:`batches`, so ``steps = k *
            ceil(N / batch_size)`` trains exactly as ``epochs = k``.
        eval_epochs: evaluate the training (and test) loss and accuracy at the end of every
            complete epoch into the history; ``False`` records only ``step_loss``, which
            saves the evaluation passes in short experiments.
        clip_grad_norm: if given, every step's gradients are scaled by
            ``min(1, clip_grad_norm / (n + 1e-6))``, ``n`` their global 2-norm
            (:func:`godeep.clipping.clip_grad_norm_`, as ``torch.nn.utils.clip_grad_norm_``).
        clip_grad_value: if given, every gradient component is clamped into
            ``[-clip_grad_value, clip_grad_value]`` (:func:`godeep.clipping.clip_grad_value_`).
            At most one of the two; ``None`` (the default) clips nothing. A ``monitor``
            logs the gradient norms before clipping.
        agc: if given, adaptive gradient clipping (Brock et al. 2021b, Eq. 3) with threshold
            ``lambda = agc``: each output unit's gradient ``G_i`` becomes
            ``G_i * min(1, agc * max(||W_i||, 1e-3) / ||G_i||)``
            (:func:`godeep.clipping.adaptive_clip_grad_`), for every parameter but the final
            classifier's (:func:`godeep.clipping.classifier_split`). Not together with
            ``clip_grad_norm`` or ``clip_grad_value``.
    """
    import torch

    from .models import weight_layers

    check_fit_args(
        epochs, lr, batch_size, optimizer, loss, steps, eval_epochs, momentum=momentum, seed=seed
    )
    check_fit_data(data)
    clip_norm, clip_value = check_clip(clip_grad_norm, clip_grad_value)
    agc = check_fit_agc(agc, clip_norm, clip_value)
    params = _parameters(model)
    agc_params = classifier_split(model)[0] if agc is not None else []
    opt = (
        torch.optim.SGD(params, lr=lr, momentum=momentum)
        if optimizer == "sgd"
        else torch.optim.Adam(params, lr=lr, eps=1e-8)
    )
    fn = _loss_fn(loss)
    dtype = params[0].dtype
    x_all = torch.as_tensor(data.x_train, dtype=dtype)
    y_all = torch.as_tensor(data.y_train)
    if loss == "mse":
        y_all = y_all.to(dtype)
    watched = weight_layers(model) if monitor is not None else {}
    history = History()
    n = len(x_all)
    steps_per_epoch = math.ceil(n / batch_size)
    epochs, total = epoch_plan(n, batch_size, epochs, steps)
    model.train()
    for step, (epoch, idx) in enumerate(
        progress(islice(batches(n, batch_size, epochs, seed), total), total=total, desc=desc)
    ):
        index = torch.as_tensor(idx)
        xb, yb = x_all[index], y_all[index]
        opt.zero_grad()
        batch_loss = fn(model(xb), yb)
        batch_loss.backward()
        logging = monitor is not None and monitor.wants(step)
        if logging:
            before = {n_: m.weight.detach().clone() for n_, m in watched.items()}
            grad_norm = {n_: float(m.weight.grad.norm()) for n_, m in watched.items()}
        if clip_norm is not None:
            clip_grad_norm_(params, clip_norm)
        elif clip_value is not None:
            clip_grad_value_(params, clip_value)
        elif agc is not None and agc_params:
            adaptive_clip_grad_(agc_params, agc)
        opt.step()
        if logging:
            update = {
                n_: float((m.weight.detach() - before[n_]).norm()) for n_, m in watched.items()
            }
            weight = {n_: float(before[n_].norm()) for n_, m in watched.items()}
            monitor.log(step, grad_norm, weight, update)
        history.step_loss.append(float(batch_loss.detach()))
        if eval_epochs and step + 1 == (epoch + 1) * steps_per_epoch:
            log_epoch(history, evaluate, model, data, loss)
    return history


def _parameters(model) -> list:
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    params = list(model.parameters())
    if not params:
        raise ValueError(f"model ({type(model).__name__}) has no parameters")
    return params
