"""Chapter 4 exercise on DenseNet's width: how many channels a dense layer reads, with the
growth rate and the transition's compression (section 4.6)."""

from __future__ import annotations

import math

from . import Feedback, as_number, correct, exercise, wrong

#: This section's DenseNet-BC: a stem conv to 2k channels, two dense blocks of 8 bottleneck
#: layers with growth rate k = 10, one transition with compression 0.5.
GROWTH, LAYERS, COMPRESSION = 10, 8, 0.5
STEM = 2 * GROWTH


def layer_inputs(k0: int, growth: int, layer: int) -> int:
    """Channels read by layer ``layer`` (1-based) of a dense block with ``k0`` input channels:
    ``k0 + growth * (layer - 1)``, the block's input and the maps of the layers before it."""
    if min(k0, growth, layer) < 1:
        raise ValueError(f"k0, growth and layer must be >= 1, got {k0}, {growth}, {layer}")
    return k0 + growth * (layer - 1)


def _second_block_input() -> int:
    """The transition's output: floor(compression * (stem + L k)) channels."""
    return math.floor(COMPRESSION * (STEM + LAYERS * GROWTH))


def _dense_width_solution() -> int:
    return layer_inputs(_second_block_input(), GROWTH, LAYERS)


def _hints() -> dict[int, str]:
    k0, k, n = _second_block_input(), GROWTH, LAYERS
    uncompressed = STEM + n * k
    return {
        k0 + n * k: (
            "that is the block's output, which includes the last layer's own k maps: layer l reads "
            "x_0 ... x_{l-1}, the block's input and the l - 1 layers before it."
        ),
        uncompressed + (n - 1) * k: (
            "you left out the transition's compression: it halves the first block's "
            f"{uncompressed} output channels to {k0} before the second block starts."
        ),
        uncompressed + n * k: (
            "two slips: the transition halves the first block's output (compression 0.5), and "
            "the last layer does not read its own output."
        ),
        STEM + (n - 1) * k: (
            "that is the last layer of the *first* block; the second block starts from the "
            f"transition's output, {k0} channels, not from the stem's {STEM}."
        ),
        (n - 1) * k: (
            f"you counted the earlier layers' maps but not the block's input x_0 ({k0} channels "
            "from the transition)."
        ),
        k: (
            "that would be a chain (dense=False): in a dense block each layer reads the "
            "concatenation of every earlier map, not only the previous layer's k."
        ),
        4 * k: (
            "4k = 40 is the bottleneck's width, what the 3x3 conv reads; the question asks what "
            "the layer's first (1x1) conv reads."
        ),
        uncompressed: (
            "that is the first block's output, the transition's input; the transition compresses "
            "it and the second block's layers add to it."
        ),
    }


def _check_dense_width(answer) -> Feedback:
    if isinstance(answer, (str, bytes)):
        return wrong(f"give the count as an integer, not the string {answer!r}: drop the quotes.")
    try:
        value = as_number(answer, "an integer")
    except TypeError as error:
        return wrong(f"{error}: give the number of channels as an integer.")
    if not math.isfinite(value) or not value.is_integer():
        return wrong(f"a number of channels is a whole number, not {value:.10g}.")
    expected = _dense_width_solution()
    k0, k = _second_block_input(), GROWTH
    if value == expected:
        bottleneck = expected * 4 * k + 9 * 4 * k * k
        return correct(
            f"{k0} + 7 x {k} = {expected}: the transition compresses the first block's "
            f"{STEM + LAYERS * k} channels to {k0}, and the second block's 8th layer reads those "
            f"and the 7 earlier layers' maps. Both brakes on width show here: without the "
            f"compression it would read {STEM + LAYERS * k + (LAYERS - 1) * k}; and its 1x1 "
            f"bottleneck to 4k = {4 * k} channels costs {bottleneck:,} weights with the 3x3 conv, "
            f"where a 3x3 conv reading all {expected} channels would cost {9 * expected * k:,}."
        )
    hints = _hints()
    if value in hints:
        return wrong(hints[int(value)])
    if value <= 0:
        return wrong("a layer reads a positive number of channels.")
    return wrong(
        f"not quite ({value:.0f}). Count the second block's input (the transition's output: "
        "half the first block's output) and the maps of the layers before the last one."
    )


dense_width = exercise(
    "ch4.dense-width",
    "This section's DenseNet-BC (stem conv to 2k = 20 channels, growth rate k = 10, two dense blocks of 8 "
    "layers, a transition with compression 0.5 between them): how many input channels does the 1x1 "
    "convolution of the last layer of the second block read?",
    solution=_dense_width_solution,
    wrong_answers=[
        (130, "block's output"),
        (170, "compression"),
        (180, "two slips"),
        (90, "*first* block"),
        (70, "block's input x_0"),
        (10, "chain"),
        (40, "bottleneck's width"),
        (100, "transition's input"),
        (125, "not quite"),
        (120.5, "whole number"),
        ("120", "drop the quotes"),
    ],
)(_check_dense_width)
