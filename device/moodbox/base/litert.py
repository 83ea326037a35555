"""Loading TFLite models with LiteRT: the one runtime both the face model and the music tagger use.

A model is only trusted together with its sidecar json (same name, .json): the file's sha256 must
match the one there, because a damaged copy can load and run, giving quiet nonsense (NaN for every
track, or a confident wrong mood). `read_verified` reads the bytes once; these very bytes are
hashed and then handed to LiteRT.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from moodbox.base.errors import Explained

MAX_MODEL_BYTES = 50_000_000  # the shipped models are 1-2 MB; never read a stray multi-GB file into memory


class ModelError(Explained, RuntimeError):
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


def read_verified(path: Path, restore: str, verify: bool = True) -> tuple[bytes, dict[str, Any]]:
    """The model's bytes and its sidecar's contents, once the bytes match the sidecar's sha256.

    `restore` is the fix each message ends with. `verify=False` skips the sidecar altogether (an empty
    dict): only for host tools that evaluate a candidate model before it has one.
    """
    try:
        size = path.stat().st_size
        if size > MAX_MODEL_BYTES:
            raise ModelError(f"model file {path} is {size / 1e6:.0f} MB, too large to be a moodbox model; {restore}")
        content = path.read_bytes()
    except OSError as e:
        raise ModelError(f"cannot read model file {path}: {e.strerror}; {restore}") from None
    if not verify:
        return content, {}
    meta_path = path.with_suffix(".json")
    try:
        meta = json.loads(meta_path.read_bytes())
    except FileNotFoundError:
        raise ModelError(f"model metadata {meta_path} is missing; {restore}") from None
    except (OSError, ValueError) as e:
        why = e.strerror if isinstance(e, OSError) else "not valid JSON"
        raise ModelError(f"cannot read model metadata {meta_path} ({why}); {restore}") from None
    expected = meta.get("sha256") if isinstance(meta, dict) else None
    if not isinstance(expected, str) or not isinstance(meta.get("labels"), list):
        raise ModelError(f"model metadata {meta_path} lacks sha256 or labels; {restore}")
    if hashlib.sha256(content).hexdigest() != expected.lower():
        raise ModelError(
            f"model file {path} does not match the sha256 in {meta_path.name} (damaged or replaced); {restore}"
        )
    return content, meta


def interpreter(content: bytes, threads: int, path: Path, restore: str) -> Any:
    """A LiteRT interpreter of the model's bytes, tensors allocated; ModelError (one line) if it is not one."""
    from moodbox.base.native import native_stderr_silenced

    interpreter_class = litert_interpreter()
    try:
        with native_stderr_silenced():  # TFLite prints its own lines about a file it cannot read
            loaded = interpreter_class(model_content=content, num_threads=threads)
            loaded.allocate_tensors()
    except (ValueError, RuntimeError) as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelError(f"model file {path} is not a usable TFLite model ({reason}); {restore}") from None
    return loaded
