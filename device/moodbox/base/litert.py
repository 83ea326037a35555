"""Loading TFLite models with LiteRT: the one runtime both the face model and the music tagger use."""

from __future__ import annotations

from typing import Any


class ModelError(RuntimeError):
    """A model file is missing, unreadable or not the model expected; one line says which and the fix."""


def litert_interpreter() -> Any:
    """LiteRT first; tflite_runtime only where LiteRT has no wheel."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            raise ModelError("no TFLite runtime installed; pip install ai-edge-litert") from None
    return Interpreter
