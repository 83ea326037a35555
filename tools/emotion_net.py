"""The emotion CNN, shared by training and export.

A plain VGG-style stack (3x3 conv, batch norm, ReLU, 2x2 max-pool; 32-64-128-256
channels, global average pooling) because it is what int8 XNNPACK runs fastest on
ARM and x86 alike: dense 3x3 convolutions with no depthwise or attention ops that
quantise badly. The shipped model narrows the first two stages to 16 and 48
channels (tools/prune.py), where most of the time per face goes. The trunk
feeds two linear heads, one fitted to the original FER2013 labels and one to
the FER+ vote distributions; the shipped model outputs a blend of their
probabilities with a weight chosen on PublicTest (tools/mixing.py), which costs
next to nothing beyond a single head.
"""

from __future__ import annotations

import keras
from keras import layers

INPUT_SIZE = 48
WIDTHS = (32, 64, 128, 256)
NUM_CLASSES = 7


def _conv_bn_relu(x, channels: int, name: str):
    x = layers.Conv2D(channels, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def trunk(inputs, widths: tuple[int, ...] | None = None, dropout: float = 0.4):
    """Raw 0..255 grey pixels in, pooled features out; `widths` narrows the stages (default WIDTHS)."""
    x = layers.Rescaling(1.0 / 255.0, name="scale")(inputs)
    for stage, channels in enumerate(widths or WIDTHS, start=1):
        x = _conv_bn_relu(x, channels, f"s{stage}a")
        x = _conv_bn_relu(x, channels, f"s{stage}b")
        x = layers.MaxPooling2D(name=f"s{stage}_pool")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    return layers.Dropout(dropout, name="dropout")(x)


def build_training_model(widths: tuple[int, ...] | None = None) -> keras.Model:
    """Two-headed model: logits for original labels and for FER+ votes."""
    inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 1), name="face")
    features = trunk(inputs, widths)
    original = layers.Dense(NUM_CLASSES, dtype="float32", name="original")(features)
    ferplus = layers.Dense(NUM_CLASSES, dtype="float32", name="ferplus")(features)
    return keras.Model(inputs, {"original": original, "ferplus": ferplus}, name="emotion_train")


def build_inference_model(widths: tuple[int, ...] | None = None) -> keras.Model:
    """What ships as emotion.tflite: both heads' probabilities blended into one distribution.

    The blend is a bias-free dense layer whose kernel export sets to
    [w*I; (1-w)*I] (tools/mixing.py); it costs 98 multiply-adds.
    """
    inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 1), name="face")
    features = trunk(inputs, widths)
    heads = [
        layers.Softmax(name=f"{name}_probabilities")(layers.Dense(NUM_CLASSES, name=name)(features))
        for name in ("original", "ferplus")
    ]
    both = layers.Concatenate(name="both")(heads)
    probs = layers.Dense(NUM_CLASSES, use_bias=False, name="blend")(both)
    return keras.Model(inputs, probs, name="emotion")


def load_weights_into(model: keras.Model, path) -> None:
    """Weights from a .weights.h5 file or from a whole saved model (.keras, e.g. a resumable checkpoint)."""
    if str(path).endswith(".keras"):
        model.set_weights(keras.models.load_model(path, compile=False).get_weights())
    else:
        model.load_weights(path)
