"""The Keras runner: ``tf.distribute.MirroredStrategy`` over a machine's devices, or
``MultiWorkerMirroredStrategy`` when ``TF_CONFIG`` describes several machines.

Same recipe, data order and augmentation as the PyTorch runner: global batch ``t`` is the
images ``perm[t*B : (t+1)*B]`` of the epoch's permutation (seeded with ``(seed, epoch)``),
cropped and flipped by :func:`~godeep.reproduce.augment.crop_flip_params` ``(seed, t)``;
replica ``r`` of ``W`` takes the images ``r, r + W, ...`` of it. Weight decay is the paper's
L2 term, (wd / 2) * ||w||^2 added to the loss (PyTorch's SGD ``weight_decay``), not Keras'
decoupled ``weight_decay``. ``--devices N`` on a CPU splits it into N logical devices, which is
how the tests check that two replicas compute what one does.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .augment import PAD, crop_flip, crop_flip_params, pad
from .config import RESUME_KEYS, RunConfig, SetupError, recipe_for
from .data import load_prepared
from .metrics import MetricsWriter, atomic_save
from .recipe import TABLE6, lr_at, steps_per_epoch, warmup_finished

__all__ = ["make_strategy", "run"]

STATE = "state.json"


def _log(main: bool, *msg) -> None:
    if main:
        print(*msg, file=sys.stderr, flush=True)


def make_strategy(cfg: RunConfig):
    """MultiWorkerMirroredStrategy under TF_CONFIG, else MirroredStrategy over ``cfg.devices``
    GPUs (default: all), or over ``cfg.devices`` logical CPU devices with ``--device cpu`` or
    when there is no GPU. Must run before TensorFlow's runtime starts (for logical CPUs)."""
    import tensorflow as tf

    if "TF_CONFIG" in os.environ:
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_physical_devices("GPU")
    if cfg.device == "cuda" and not gpus:
        raise SetupError("--device cuda but TensorFlow sees no GPU; use --device cpu")
    if gpus and cfg.device != "cpu":
        n = len(gpus) if cfg.devices is None else cfg.devices
        if n > len(gpus):
            raise SetupError(f"--devices {n} but only {len(gpus)} GPU(s) are visible")
        return tf.distribute.MirroredStrategy([f"/gpu:{i}" for i in range(n)])
    n = cfg.devices or 1
    cpus = tf.config.list_physical_devices("CPU")
    if n > 1:
        try:
            tf.config.set_logical_device_configuration(
                cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(n)]
            )
        except RuntimeError as exc:
            raise SetupError(
                f"cannot split the CPU into {n} logical devices once TensorFlow "
                f"has started ({exc}); run in a fresh process"
            ) from exc
    logical = tf.config.list_logical_devices("CPU")
    if n > len(logical):
        raise SetupError(f"--devices {n} but only {len(logical)} CPU device(s)")
    return tf.distribute.MirroredStrategy([d.name for d in logical[:n]])


def _is_chief(strategy) -> bool:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    return resolver.task_type == "chief" or (
        resolver.task_type == "worker"
        and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict()
    )


def run(cfg: RunConfig) -> dict:
    """Train as ``cfg`` says with Keras; the chief writes ``metrics.jsonl`` and a checkpoint
    (``ckpt/`` and ``state.json``) to ``cfg.out``. Returns the last metrics record."""
    strategy = make_strategy(cfg)  # before anything starts TensorFlow's runtime
    import keras
    import tensorflow as tf

    from godeep.keras import residual as kres

    if cfg.threads is not None:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(cfg.threads)
        except RuntimeError:
            pass
    if cfg.norm != "batch":
        raise SetupError(
            "the Keras runner has BatchNorm only; run norm-batch --norm group "
            "with --framework pytorch"
        )
    main = _is_chief(strategy)
    world = strategy.num_replicas_in_sync
    data = load_prepared(cfg.data_dir, cfg.train_subset, cfg.test_subset, cfg.val_split)
    gb = cfg.global_batch(world)
    n_train = len(data.y_train)
    spe = steps_per_epoch(n_train, gb)
    recipe = recipe_for(cfg, gb, n_train)
    x_pad = pad(data.x_train)
    to_nhwc = lambda x: np.ascontiguousarray(np.transpose(x, (0, 2, 3, 1)))  # noqa: E731
    x_test = to_nhwc(data.x_test)
    x_val = None if data.x_val is None else to_nhwc(data.x_val)

    if cfg.amp:
        keras.mixed_precision.set_global_policy("mixed_float16")
    keras.utils.set_random_seed(cfg.seed)
    with strategy.scope():
        model = kres.cifar_resnet(cfg.depth, plain=cfg.plain, input_size=32)
        for layer in _bn_layers(model):
            layer.synchronized = cfg.sync_bn and world > 1
        optimizer = keras.optimizers.SGD(learning_rate=recipe.lr, momentum=recipe.momentum)
        if cfg.amp:
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        optimizer.build(model.trainable_variables)
        step_var = tf.Variable(0, dtype=tf.int64, trainable=False)
    wd = recipe.weight_decay

    def replica_step(x, y):
        with tf.GradientTape() as tape:
            logits = tf.cast(model(x, training=True), tf.float32)
            per_example = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
            loss = tf.reduce_sum(per_example) / gb
            l2 = tf.add_n(
                [
                    tf.reduce_sum(tf.square(tf.cast(v, tf.float32)))
                    for v in model.trainable_variables
                ]
            )
            loss += 0.5 * wd * l2 / world  # summed over replicas: (wd / 2) ||w||^2
            scaled = optimizer.scale_loss(loss) if cfg.amp else loss
        grads = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        wrong = tf.reduce_sum(tf.cast(tf.argmax(logits, 1) != tf.cast(y, tf.int64), tf.float32))
        n = tf.cast(tf.shape(y)[0], tf.float32)
        return tf.stack([tf.reduce_sum(per_example), wrong, n])

    @tf.function(jit_compile=cfg.compile or None)
    def train_step(x, y):
        per_replica = strategy.run(replica_step, args=(x, y))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    @tf.function
    def predict(x):
        return tf.argmax(model(x, training=False), 1)

    def error(x: np.ndarray, y: np.ndarray) -> float:
        wrong = sum(
            int((predict(x[i : i + cfg.eval_batch]).numpy() != y[i : i + cfg.eval_batch]).sum())
            for i in range(0, len(y), cfg.eval_batch)
        )
        return wrong / len(y)

    def batch(step: int, cache: dict):
        epoch, b = divmod(step, spe)
        if cache.get("epoch") != epoch:
            cache["epoch"] = epoch
            cache["perm"] = np.random.default_rng([cfg.seed, epoch]).permutation(n_train)
        idx = cache["perm"][b * gb : (b + 1) * gb]
        offsets, flips = crop_flip_params(cfg.seed, step, gb, PAD)
        x = to_nhwc(crop_flip(x_pad[idx], offsets, flips))
        y = data.y_train[idx].astype(np.int32)

        def share(ctx):
            r = ctx.replica_id_in_sync_group
            return tf.constant(x[r::world]), tf.constant(y[r::world])

        return strategy.experimental_distribute_values_from_function(share)

    out = Path(cfg.out)
    ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer, step=step_var)
    prefix = str(out / "ckpt" / "ckpt") if main else os.path.join(tempfile.mkdtemp(), "ckpt")
    warmup_end, recent, acc, resume_step = None, [], np.zeros(3), None
    state_path = out / STATE
    if cfg.resume and state_path.exists():
        state = json.loads(state_path.read_text())
        diff = [k for k in RESUME_KEYS if state["config"].get(k) != getattr(cfg, k)]
        if diff:
            raise SetupError(
                "cannot resume: the checkpoint was made with different settings: " + ", ".join(diff)
            )
        ckpt.read(str(out / "ckpt" / "ckpt")).assert_consumed()
        warmup_end, recent = state["warmup_end"], state["recent_errors"]
        acc, resume_step = np.array(state["acc"]), int(step_var.numpy())
        _log(main, f"resuming from {out} at step {resume_step}")
    writer = MetricsWriter(out, resume_step) if main else None
    _log(
        main,
        f"{cfg.experiment} (keras): depth {cfg.depth} {'plain' if cfg.plain else 'residual'}"
        f", {world} replica(s) ({type(strategy).__name__}), global batch {gb}, "
        f"{recipe.steps} steps, lr {recipe.lr:g} (/10 at {list(recipe.milestones)})"
        f"{f', warm-up at {recipe.warmup_lr:g}' if recipe.warmup else ''}",
    )

    def save() -> None:
        ckpt.write(prefix)
        if main:
            state = {
                "step": int(step_var.numpy()),
                "warmup_end": warmup_end,
                "recent_errors": recent,
                "acc": acc.tolist(),
                "config": cfg.to_dict(),
                "recipe": recipe.to_dict(),
            }
            atomic_save(lambda p: Path(p).write_text(json.dumps(state)), state_path)

    from godeep.train import progress

    start = int(step_var.numpy())
    last: dict = {}
    cache: dict = {}
    current_lr = None
    clock, cpu, images = time.perf_counter(), time.process_time(), 0
    steps = range(start, recipe.steps)
    for step in progress(steps, total=len(steps), desc="train") if main else steps:
        lr = lr_at(step, recipe, warmup_end)
        if lr != current_lr:  # an assignment is an eager op: only when the rate changes
            optimizer.learning_rate = current_lr = lr
        x, y = batch(step, cache)
        stats = train_step(x, y).numpy()
        acc += stats
        images += gb
        step_var.assign(step + 1)
        done = step + 1
        if recipe.warmup and warmup_end is None:
            recent = (recent + [float(stats[1] / stats[2])])[-recipe.warmup_window :]
            if warmup_finished(recent, recipe):
                warmup_end = done
                _log(main, f"warm-up ended at step {done}")
        final = done == recipe.steps
        if done % cfg.log_every == 0 or final:
            elapsed = time.perf_counter() - clock
            record = {
                "step": done,
                "epoch": round(done / spe, 3),
                "loss": acc[0] / acc[2],
                "lr": lr,
                "train_err": acc[1] / acc[2],
                "test_err": None,
                "images_per_s": images / elapsed if elapsed else None,
                "cpu_s": time.process_time() - cpu,
            }
            if done % cfg.eval_every == 0 or final:
                record["test_err"] = error(x_test, data.y_test)
                if x_val is not None:
                    record["val_err"] = error(x_val, data.y_val)
            if writer is not None:
                writer.write(record)
            last = record
            acc = np.zeros(3)
            clock, cpu, images = time.perf_counter(), time.process_time(), 0
        stop = cfg.stop_after is not None and done - start == cfg.stop_after
        if done % cfg.checkpoint_every == 0 or final or stop:
            save()
            clock, cpu, images = time.perf_counter(), time.process_time(), 0
        if stop:
            _log(main, f"stopped after {cfg.stop_after} steps at step {done}; --resume continues")
            break
    if main and last.get("test_err") is not None:
        paper = (
            TABLE6.get(cfg.depth) if cfg.experiment == "cifar-resnet" and not cfg.plain else None
        )
        note = f" (He et al. 2016, Table 6: {paper}%)" if paper else ""
        _log(main, f"final test error {100 * last['test_err']:.2f}% after {done} steps{note}")
    return last


def _bn_layers(model) -> list:
    import keras

    found = []

    def visit(layer) -> None:
        if isinstance(layer, keras.layers.BatchNormalization):
            found.append(layer)
        for child in getattr(layer, "_layers", []) or []:
            visit(child)
        for attr in vars(layer).values():
            if isinstance(attr, keras.layers.Layer) and attr is not layer and attr not in found:
                if isinstance(attr, keras.layers.BatchNormalization):
                    found.append(attr)

    for layer in model.layers:
        visit(layer)
    return list({id(b): b for b in found}.values())
