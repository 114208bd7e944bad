"""The Ray engine against a local Ray instance started here: the same output as the local engine, and resume."""

from __future__ import annotations

import errno
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from scoring_support import generated_posts, train_tiny_models, write_jsonl
from sosrisk.scoring import ScoreSettings, ScoringError, score
from sosrisk.scoring.workdir import parts_dir_for

ray = pytest.importorskip("ray", reason='the Ray engine needs pip install "sosrisk[ray]"')
pytest.importorskip("ray.data", reason='the Ray engine needs pip install "sosrisk[ray]"')


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return train_tiny_models(tmp_path_factory.mktemp("scoring-models"))


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """One local Ray instance for the module (starting Ray takes seconds); score() reuses it."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield
    finally:
        ray.shutdown()


def mixed_inputs(folder: Path) -> Path:
    """A folder with JSONL (bad rows included), CSV and Parquet files."""
    posts = generated_posts(90, seed=21)
    lines = [json.dumps(p, ensure_ascii=False) for p in posts[:40]]
    lines[5] = '{"id": "broken", "text": '
    lines[9] = '{"id": "no-text"}'
    lines.insert(20, "")
    (folder / "a.jsonl").parent.mkdir(parents=True, exist_ok=True)
    (folder / "a.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    pd.DataFrame(posts[40:70]).to_csv(folder / "b.csv", index=False)
    frame = pd.DataFrame(posts[70:])
    frame.loc[3, "text"] = None
    frame.to_parquet(folder / "c.parquet")
    return folder


@pytest.mark.slow
def test_ray_engine_writes_what_the_local_engine_writes(
    tmp_path: Path, models: tuple[Path, Path], local_ray: None
) -> None:
    inputs = mixed_inputs(tmp_path / "in")
    local_out, ray_out = tmp_path / "local.parquet", tmp_path / "ray.parquet"
    local = score(list(models), inputs, local_out, ScoreSettings(chunk_size=16), workers=1, show_progress=False)
    remote = score(
        list(models), inputs, ray_out, ScoreSettings(engine="ray", chunk_size=16), workers=2, show_progress=False
    )
    pd.testing.assert_frame_equal(pd.read_parquet(ray_out), pd.read_parquet(local_out))
    assert (tmp_path / "ray.rejects.jsonl").read_text() == (tmp_path / "local.rejects.jsonl").read_text()
    assert (remote.scored, remote.rejected, remote.engine) == (local.scored, local.rejected, "ray") == (87, 3, "ray")
    assert ray.is_initialized()  # a Ray instance the caller started is left running


@pytest.mark.slow
def test_ray_engine_resumes_after_a_failure(
    tmp_path: Path, models: tuple[Path, Path], local_ray: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sosrisk.scoring.ray_engine as ray_engine

    source = write_jsonl(tmp_path / "posts.jsonl", generated_posts(200, seed=4))
    reference = tmp_path / "reference.jsonl"
    score(models[0], source, reference, ScoreSettings(chunk_size=30), workers=1, show_progress=False)
    original = ray_engine.write_chunk

    def fail_at_chunk_3(workdir: Any, index: int, *args: Any, **kwargs: Any) -> Any:
        if index == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(workdir, index, *args, **kwargs)

    monkeypatch.setattr(ray_engine, "write_chunk", fail_at_chunk_3)
    output = tmp_path / "out.jsonl"
    parts = parts_dir_for(output)
    with pytest.raises(ScoringError) as caught:
        score(models[0], source, output, ScoreSettings(engine="ray", chunk_size=30), workers=2, show_progress=False)
    assert str(caught.value) == (
        f"Writing chunk 3 to {parts} failed: the disk is full ([Errno 28] No space left on device). Finished "
        "chunks are kept; free space (or fix the problem) and rerun the same command with --resume."
    )
    assert len(list(parts.glob("done-*.json"))) == 3
    monkeypatch.undo()
    with pytest.raises(ScoringError, match="setting 'engine' was 'ray', now 'local'"):
        score(models[0], source, output, ScoreSettings(chunk_size=30), workers=1, resume=True, show_progress=False)
    summary = score(
        models[0],
        source,
        output,
        ScoreSettings(engine="ray", chunk_size=30),
        workers=2,
        resume=True,
        show_progress=False,
    )
    assert (summary.chunks, summary.resumed_chunks, summary.scored) == (7, 3, 200)
    assert output.read_text(encoding="utf-8") == reference.read_text(encoding="utf-8")
